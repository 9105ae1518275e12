package dev.jbert.kernels.cuda;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jbert.kernels.Buffer;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Each precision rounds a GEMM's inputs as it says: no more, and no less. The op harness cannot
 * tell tf32 from bf16 (its bound is relative to the magnitude a whole dot product sums), so this
 * multiplies by the identity, C = A I, where C is A's entries as the mode rounded them. A holds
 * 1 + 2^-9, which float and tf32 (10-bit mantissa) represent and bf16 (7 bits) rounds to 1, and
 * 1 + 2^-12, which only float represents. Each mode must return exactly its rounding of both, in
 * {@code gemm} and in {@code gemmBatched} (which bf16 mode leaves at tf32).
 * (On an H200, cuBLAS's FAST_16BF compute type returned tf32's results, which this caught.)
 */
class CudaPrecisionTest {
    private static final int SIZE = 256; // large enough for cuBLAS to pick its tensor-core kernels

    @ParameterizedTest
    @EnumSource(Precision.class)
    void gemmRoundsItsInputsAsDocumented(Precision precision) {
        assumeTrue(Cuda.available(), () -> "CUDA tests skipped: " + Cuda.unavailableReason().orElseThrow());
        int bits = -Math.getExponent(precision.unitRoundoff()) - 1;
        // bf16 mode's rounding kernel takes 8 elements at a time where A starts 16-byte aligned and one
        // at a time elsewhere: an aligned A, one whose size leaves a tail (255^2 = 8 x 8128 + 1), and
        // one that starts a float into its buffer
        for (int[] sizeAndOffset : new int[][] {{SIZE, 0}, {SIZE - 1, 0}, {SIZE, 1}}) {
            int size = sizeAndOffset[0], offset = sizeAndOffset[1];
            float[] values = {1 + 0x1.0p-9f, 1 + 0x1.0p-12f};
            float[] a = new float[offset + size * size];
            float[] identity = new float[size * size];
            for (int i = 0; i < a.length; i++) {
                a[i] = values[i % 2];
            }
            for (int i = 0; i < size; i++) {
                identity[i * size + i] = 1;
            }
            float[] expected = Arrays.copyOfRange(a, offset, a.length);
            String what = precision + " " + size + "^2 at offset " + offset;
            try (CudaBackend backend = new CudaBackend(precision)) {
                Buffer whole = backend.allocateFloats(a.length);
                Buffer ba = whole.slice(offset, size * size);
                Buffer bi = backend.allocateFloats(identity.length);
                Buffer bc = backend.allocateFloats(size * size);
                backend.copyIn(a, whole);
                backend.copyIn(identity, bi);
                backend.gemm(false, false, size, size, size, 1, ba, bi, 0, bc);
                check(what + " gemm", expected, download(backend, bc), bits);
                backend.gemmBatched(false, false, size, size, size, 1, ba, bi, 0, bc, 1);
                check(what + " gemmBatched", expected, download(backend, bc), precision == Precision.BF16 ? 10 : bits);
            }
        }
    }

    private static float[] download(CudaBackend backend, Buffer buffer) {
        float[] values = new float[buffer.length()];
        backend.copyOut(buffer, values);
        return values;
    }

    private static void check(String what, float[] a, float[] c, int mantissaBits) {
        System.out.printf("%s: C = A I gives %s for 1 + 2^-9 and %s for 1 + 2^-12 (%d-bit mantissa expected)%n",
                what, Float.toHexString(c[0]), Float.toHexString(c[1]), mantissaBits);
        for (int i = 0; i < c.length; i++) {
            float expected = rounded(a[i], mantissaBits);
            if (c[i] != expected) {
                fail(what + ": C[" + i + "] = " + Float.toHexString(c[i]) + ", expected " + Float.toHexString(expected)
                        + " (" + Float.toHexString(a[i]) + " rounded to " + mantissaBits + " mantissa bits)");
            }
        }
    }

    /** x rounded to nearest (ties to even) with {@code bits} explicit mantissa bits. */
    private static float rounded(float x, int bits) {
        int drop = 23 - bits;
        if (drop == 0) {
            return x;
        }
        int raw = Float.floatToRawIntBits(x);
        int half = (1 << (drop - 1)) - 1 + ((raw >>> drop) & 1);
        return Float.intBitsToFloat((raw + half) & -(1 << drop));
    }
}
