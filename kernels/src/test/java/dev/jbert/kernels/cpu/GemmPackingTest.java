package dev.jbert.kernels.cpu;

import static dev.jbert.kernels.cpu.GemmKernel.MR;
import static dev.jbert.kernels.cpu.GemmKernel.NR;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Packing against the layouts it promises: a B packed from rows of positions (a transposed B:
 * register transposes and gathers) gives the same slivers as its transpose packed from rows of steps
 * (vector copies), a transposed A packs the same in any ranges of steps, and a plain A lands row by
 * row, at sizes that leave partial slivers and steps outside whole 16 x 16 blocks.
 */
class GemmPackingTest {
    private static final int[] POSITIONS = {1, 12, 13, 31, 40, 100};
    private static final int[] STEPS = {1, 16, 37, 130, 300};

    /** A plain A's sliver s holds row r's steps at s * rowsStride(MR) + r * A_ROW_STRIDE; missing rows are zeros. */
    @Test
    void aPlainAPacksRowByRow() {
        SplittableRandom random = new SplittableRandom(3);
        for (int m : POSITIONS) {
            for (int k : STEPS) {
                int p0 = k > 20 ? 3 : 0, kc = k - p0, slivers = Math.ceilDiv(m, MR);
                float[] a = GemmTest.random(random, m * k), packed = new float[slivers * GemmPacking.rowsStride(MR)];
                Arrays.fill(packed, Float.NaN);
                GemmPacking.packAPlain(a, 0, k, m, p0, kc, 0, slivers, packed);
                for (int i = 0; i < slivers * MR; i++) {
                    for (int q = 0; q < kc; q++) {
                        float expected = i < m ? a[i * k + p0 + q] : 0f;
                        int at = i / MR * GemmPacking.rowsStride(MR) + i % MR * GemmKernel.A_ROW_STRIDE + q;
                        assertEquals(expected, packed[at], "A " + m + " x " + k + ": row " + i + ", step " + q);
                    }
                }
            }
        }
    }

    /**
     * Threads share a transposed A's panel by ranges of steps, in any order: packed piece by piece,
     * the last piece first, it is the panel packed in one go. (A 12-wide sliver's step is copied with a
     * 16-float vector; a piece that spilled into the next piece's first step would show here.)
     */
    @Test
    void aTransposedAPacksTheSameInRangesOfSteps() {
        SplittableRandom random = new SplittableRandom(5);
        for (int m : POSITIONS) {
            for (int k : STEPS) {
                for (int pieces : new int[] {2, 3, 8}) {
                    int p0 = k > 20 ? 3 : 0, kc = k - p0, slivers = Math.ceilDiv(m, MR);
                    float[] aT = GemmTest.random(random, k * m);  // stored [k][m]
                    float[] whole = panel(slivers, MR, kc), inPieces = panel(slivers, MR, kc);
                    GemmPacking.packATransposed(aT, 0, m, m, p0, kc, 0, kc, whole);
                    for (int piece = pieces - 1; piece >= 0; piece--) {
                        GemmPacking.packATransposed(aT, 0, m, m, p0, kc, piece * kc / pieces,
                                (piece + 1) * kc / pieces, inPieces);
                    }
                    assertSameSlivers(whole, inPieces, slivers, MR, kc, "A " + m + " x " + k + " in " + pieces + " pieces");
                }
            }
        }
    }

    @Test
    void aTransposedBPacksAsAPlainOne() {
        SplittableRandom random = new SplittableRandom(4);
        for (int n : POSITIONS) {
            for (int k : STEPS) {
                int slivers = Math.ceilDiv(n, NR);
                float[] bT = GemmTest.random(random, n * k), b = transpose(bT, n, k);  // bT is [n][k], b [k][n]
                float[] fromT = panel(slivers, NR, k), plain = panel(slivers, NR, k);
                GemmPacking.packB(true, bT, 0, k, 0, k, 0, n, 0, slivers, fromT, 0);
                GemmPacking.packB(false, b, 0, n, 0, k, 0, n, 0, slivers, plain, 0);
                assertSameSlivers(fromT, plain, slivers, NR, k, "B " + k + " x " + n);
            }
        }
    }

    /** Every float of every sliver's kc steps (the gaps between slivers are scratch). */
    private static void assertSameSlivers(float[] x, float[] y, int slivers, int width, int kc, String what) {
        for (int s = 0; s < slivers; s++) {
            for (int i = 0; i < width * kc; i++) {
                int at = s * GemmPacking.stride(width, kc) + i;
                assertEquals(y[at], x[at], what + ": sliver " + s + ", step " + i / width + ", position " + i % width);
            }
        }
    }

    /** A panel of slivers, filled with NaN so that a float that packing forgets shows. */
    private static float[] panel(int slivers, int width, int kc) {
        float[] floats = new float[slivers * GemmPacking.stride(width, kc)];
        Arrays.fill(floats, Float.NaN);
        return floats;
    }

    /** x [rows][cols] -> [cols][rows]. */
    private static float[] transpose(float[] x, int rows, int cols) {
        float[] t = new float[x.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = x[r * cols + c];
            }
        }
        return t;
    }
}
