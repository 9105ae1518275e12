package dev.jbert.kernels;

import dev.jbert.kernels.cpu.CpuBackend;
import dev.jbert.kernels.cuda.Cuda;
import dev.jbert.kernels.cuda.CudaBackend;
import dev.jbert.kernels.cuda.Precision;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;

/**
 * The backends every op test runs on. The CPU backend appears three times: vectors on two
 * threads (the default on these machines), scalar on one thread (the SIMD switch off), and
 * vectors on three threads (more threads than cores, to shake out partitioning bugs). Where a
 * CUDA device is present, the CUDA backend joins in each GEMM precision; where none is, the
 * harness says so once ({@code CudaAvailabilityTest} reports it as a skipped test).
 */
public final class TestBackends {
    private TestBackends() {}

    /**
     * For {@code @MethodSource}: a fresh instance of each backend, named for the test report.
     * JUnit closes each one after its test.
     */
    public static Stream<Named<Backend>> all() {
        List<Backend> backends = new ArrayList<>(List.of(
                new CpuBackend(2, true),
                new CpuBackend(1, false),
                new CpuBackend(3, true)));
        if (Cuda.available()) {
            for (Precision precision : Precision.values()) {
                backends.add(new CudaBackend(precision));
            }
        }
        return backends.stream().map(backend -> Named.of(backend.name(), backend));
    }

    /**
     * The relative error a GEMM may make, per unit of the magnitude it sums: float rounding on the
     * CPU and in the CUDA backend's fp32 mode; in tf32 and bf16 each input is rounded once (a
     * relative error u each, so about 2u per product) before a float accumulation.
     */
    public static double gemmTolerance(Backend backend) {
        if (backend instanceof CudaBackend cuda && cuda.precision() != Precision.FP32) {
            return 2.5 * cuda.precision().unitRoundoff();
        }
        return 1e-6;
    }
}
