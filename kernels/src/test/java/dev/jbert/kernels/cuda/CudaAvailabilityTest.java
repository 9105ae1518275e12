package dev.jbert.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * Where the CUDA backend stands on this machine. Without a GPU the CUDA tests cannot run: this test
 * is then reported as skipped with the reason, so a green run never hides that the GPU half went
 * untested. With one, the op harness ({@code BackendOpsTest}) covers the CUDA backend in every
 * precision, and this checks the device answers.
 */
class CudaAvailabilityTest {
    @Test
    void cudaDeviceIsUsable() {
        assumeTrue(Cuda.available(), () -> "CUDA tests skipped: " + Cuda.unavailableReason().orElseThrow());
        System.out.println("CUDA: " + Cuda.versions());
        try (CudaBackend backend = new CudaBackend(Precision.FP32)) {
            System.out.println("CUDA backend: " + backend.name());
            backend.synchronize();
        }
    }

    @Test
    void withoutADeviceTheBackendRefusesToStartWithTheReason() {
        assumeTrue(!Cuda.available(), "a CUDA device is present");
        assertThrows(CudaException.class, () -> new CudaBackend(Precision.BF16));
    }

    @Test
    void precisionsParseFromTheCommandLine() {
        for (Precision precision : Precision.values()) {
            assertEquals(precision, Precision.parse(precision.label().toUpperCase()));
        }
        assertThrows(IllegalArgumentException.class, () -> Precision.parse("fp16"));
    }
}
