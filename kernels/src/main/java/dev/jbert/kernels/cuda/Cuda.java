package dev.jbert.kernels.cuda;

import java.util.Optional;
import org.bytedeco.cuda.global.cudart;

/**
 * Whether this machine can run the CUDA backend, asked once per process. JavaCPP loads the CUDA
 * libraries when {@code cudart} is first touched: on a machine without them that throws an
 * {@link UnsatisfiedLinkError}, and every later touch a {@link NoClassDefFoundError}, so the answer
 * is kept rather than asked again.
 */
public final class Cuda {
    private static final Object LOCK = new Object();
    private static String verdict; // "" when CUDA works, else why not; null until probed

    private Cuda() {}

    /** Empty when a CUDA device can be used, else a one-line reason. */
    public static Optional<String> unavailableReason() {
        synchronized (LOCK) {
            if (verdict == null) {
                verdict = probe();
            }
            return verdict.isEmpty() ? Optional.empty() : Optional.of(verdict);
        }
    }

    public static boolean available() {
        return unavailableReason().isEmpty();
    }

    /** The driver's and the runtime's CUDA versions, e.g. {@code driver 13.0, runtime 13.0}. */
    public static String versions() {
        int[] driver = new int[1];
        int[] runtime = new int[1];
        CudaStatus.runtime(cudart.cudaDriverGetVersion(driver), "cudaDriverGetVersion");
        CudaStatus.runtime(cudart.cudaRuntimeGetVersion(runtime), "cudaRuntimeGetVersion");
        return "driver " + version(driver[0]) + ", runtime " + version(runtime[0]);
    }

    private static String version(int encoded) {
        return encoded / 1000 + "." + encoded % 1000 / 10;
    }

    private static String probe() {
        try {
            int[] count = new int[1];
            int status = cudart.cudaGetDeviceCount(count);
            if (status != cudart.cudaSuccess) {
                return "no usable CUDA device (" + cudart.cudaGetErrorName(status).getString() + ")";
            }
            return count[0] > 0 ? "" : "no CUDA device";
        } catch (LinkageError e) {
            StringBuilder messages = new StringBuilder();
            for (Throwable t = e; t != null; t = t.getCause()) {
                String message = t.getMessage() == null ? t.toString() : t.getMessage().lines().findFirst().orElse("");
                messages.append(messages.isEmpty() ? "" : "; ").append(message);
            }
            return "the CUDA libraries could not be loaded (" + messages + ")";
        }
    }
}
