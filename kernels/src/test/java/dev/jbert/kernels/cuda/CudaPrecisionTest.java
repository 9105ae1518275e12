package dev.jbert.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jbert.kernels.Buffer;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Each precision rounds a GEMM's inputs as it says, and no more. The op harness cannot tell tf32
 * from bf16 (its bound is relative to the magnitude a whole dot product sums), so this multiplies
 * by the identity, C = A I, where any difference between C and A is the rounding of A alone.
 * A holds 1 + 2^-9, which float and tf32 (10-bit mantissa) represent exactly and bf16 (7 bits)
 * does not: fp32 and tf32 must return it exactly, bf16 within its unit roundoff.
 * (On an H200 the tf32 and bf16 modes gave identical whole-model errors, which this pins down.)
 */
class CudaPrecisionTest {
    private static final int SIZE = 256; // large enough for cuBLAS to pick its tensor-core kernels

    @ParameterizedTest
    @EnumSource(Precision.class)
    void gemmRoundsItsInputsAsDocumented(Precision precision) {
        assumeTrue(Cuda.available(), () -> "CUDA tests skipped: " + Cuda.unavailableReason().orElseThrow());
        float value = 1 + 0x1.0p-9f;
        float[] a = new float[SIZE * SIZE];
        float[] identity = new float[SIZE * SIZE];
        Arrays.fill(a, value);
        for (int i = 0; i < SIZE; i++) {
            identity[i * SIZE + i] = 1;
        }
        float[] c = new float[SIZE * SIZE];
        try (CudaBackend backend = new CudaBackend(precision)) {
            Buffer ba = backend.allocateFloats(a.length);
            Buffer bi = backend.allocateFloats(identity.length);
            Buffer bc = backend.allocateFloats(c.length);
            backend.copyIn(a, ba);
            backend.copyIn(identity, bi);
            backend.gemm(false, false, SIZE, SIZE, SIZE, 1, ba, bi, 0, bc);
            backend.copyOut(bc, c);
        }
        double worst = 0;
        for (float x : c) {
            worst = Math.max(worst, Math.abs(x - value) / value);
        }
        double allowed = precision == Precision.BF16 ? precision.unitRoundoff() : 0;
        System.out.printf("%s: C = A I, largest relative change of A = 1 + 2^-9: %.3e%n", precision, worst);
        assertTrue(worst <= allowed, precision + " changed A by " + worst + ", allowed " + allowed);
    }
}
