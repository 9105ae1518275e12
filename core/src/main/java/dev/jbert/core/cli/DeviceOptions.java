package dev.jbert.core.cli;

import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Devices;
import java.io.PrintWriter;
import picocli.CommandLine.Option;

/** {@code --device} and {@code --precision}, shared by every command that runs the model. */
final class DeviceOptions {
    @Option(names = "--device", defaultValue = "auto", paramLabel = "auto|cpu|cuda",
            description = "Where to compute: the GPU when there is one (auto), or as named (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--precision", defaultValue = "auto", paramLabel = "auto|fp32|tf32|bf16",
            description = {"How the GPU multiplies matrices; weights, gradients and optimizer state stay fp32.",
                "auto: bf16 on a GPU, fp32 on the CPU (the only CPU mode) (default: ${DEFAULT-VALUE})."})
    String precision;

    /**
     * The backend asked for. With {@code announce}, a notice line goes to {@code err} when auto falls
     * back to the CPU (long jobs say where they run; a quick answer just runs).
     */
    Backend open(PrintWriter err, boolean announce) {
        try {
            return Devices.open(device, precision, line -> {
                if (announce) {
                    err.println("jbert: " + line);
                    err.flush();
                }
            });
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage());
        }
    }
}
