package dev.jbert.kernels;

import dev.jbert.kernels.cpu.CpuBackend;
import dev.jbert.kernels.cuda.Cuda;
import dev.jbert.kernels.cuda.CudaBackend;
import dev.jbert.kernels.cuda.Precision;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Opens the backend a user asks for by name, the one place that knows every backend.
 *
 * <ul>
 *   <li>device {@code cpu}: the CPU backend; {@code cuda}: the first GPU, or an error saying why there
 *       is none; {@code auto}: the GPU when one works, else the CPU with one line saying why.
 *   <li>precision {@code auto}: bf16 GEMMs on a GPU (mixed precision, float32 masters), fp32 on the
 *       CPU; {@code fp32}, {@code tf32}, {@code bf16}: as named. The CPU computes fp32 only.
 * </ul>
 * Bad names and impossible combinations throw {@link IllegalArgumentException} with a message for the user.
 */
public final class Devices {
    private Devices() {}

    public static Backend open(String device, String precision, Consumer<String> notice) {
        Optional<Precision> wanted = precision.equalsIgnoreCase("auto") ? Optional.empty() : Optional.of(Precision.parse(precision));
        switch (device.toLowerCase(Locale.ROOT)) {
            case "cpu" -> {
                return cpu(wanted, notice, false);
            }
            case "cuda" -> {
                Optional<String> reason = Cuda.unavailableReason();
                if (reason.isPresent()) {
                    throw new IllegalArgumentException("--device cuda: " + reason.get());
                }
                return new CudaBackend(wanted.orElse(Precision.BF16));
            }
            case "auto" -> {
                Optional<String> reason = Cuda.unavailableReason();
                if (reason.isEmpty()) {
                    return new CudaBackend(wanted.orElse(Precision.BF16));
                }
                notice.accept("no GPU, running on the CPU: " + reason.get());
                return cpu(wanted, notice, true);
            }
            default -> throw new IllegalArgumentException("unknown device '" + device + "': expected auto, cpu or cuda");
        }
    }

    private static Backend cpu(Optional<Precision> wanted, Consumer<String> notice, boolean fellBack) {
        if (wanted.isPresent() && wanted.get() != Precision.FP32) {
            String message = "the CPU backend computes in fp32 only, not " + wanted.get().label();
            if (!fellBack) {
                throw new IllegalArgumentException(message);
            }
            notice.accept(message + ": using fp32");
        }
        return new CpuBackend();
    }
}
