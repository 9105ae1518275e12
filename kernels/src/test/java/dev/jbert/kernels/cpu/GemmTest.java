package dev.jbert.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.kernels.MatrixLayout;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Gemm} against a plain triple loop in double, on random inputs (never zeros), with a tolerance
 * relative to sum |a||b| of each element. Sizes straddle the tile (MR x NR) and block (MC, KC)
 * boundaries, and SIMD off, 1, 2 and 3 threads must give bitwise the same C.
 */
class GemmTest {
    static final double TOLERANCE = 1e-5;
    static final Parallel ONE = new Parallel(1), TWO = new Parallel(2), THREE = new Parallel(3);

    @AfterAll
    static void close() {
        ONE.close();
        TWO.close();
        THREE.close();
    }

    /** A row-major operand with op(X) of rows x cols, stored transposed when trans. */
    record Operand(float[] data, int offset, boolean trans, int rows, int cols) {
        double at(int i, int j) {
            return data[offset + (trans ? j * rows + i : i * cols + j)];
        }
    }

    static float[] random(SplittableRandom random, int size) {
        float[] x = new float[size];
        for (int i = 0; i < size; i++) {
            float v = (float) random.nextDouble(0.1, 1.0);
            x[i] = random.nextBoolean() ? v : -v;
        }
        return x;
    }

    /** Checks alpha * op(A) op(B) + beta * c0 against got, element by element. */
    static void assertClose(Operand a, Operand b, float alpha, float beta, float[] c0, int cOffset, float[] got) {
        int m = a.rows(), k = a.cols(), n = b.cols();
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0, magnitude = 0;
                for (int p = 0; p < k; p++) {
                    sum += a.at(i, p) * b.at(p, j);
                    magnitude += Math.abs(a.at(i, p) * b.at(p, j));
                }
                int at = cOffset + i * n + j;
                double old = beta == 0 ? 0 : c0[at];
                double expected = alpha * sum + beta * old;
                double bound = TOLERANCE * (Math.abs(alpha) * magnitude + Math.abs(beta * old)) + 1e-30;
                double error = Math.abs(got[at] - expected);
                if (!(error <= bound)) {
                    throw new AssertionError("C[%d][%d] of %dx%dx%d (transA=%b transB=%b alpha=%s beta=%s): got %s, expected %s"
                            .formatted(i, j, m, n, k, a.trans(), b.trans(), alpha, beta, got[at], expected));
                }
            }
        }
    }

    /** Runs one case on every configuration, checks the first against the reference and the rest for bitwise equality. */
    static void check(boolean transA, boolean transB, int m, int n, int k, float alpha, float beta, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int offset = 3;  // operands do not start at 0
        Operand a = new Operand(random(random, offset + m * k), offset, transA, m, k);
        Operand b = new Operand(random(random, offset + k * n), offset, transB, k, n);
        float[] c0 = random(random, offset + m * n);
        if (beta == 0) {
            Arrays.fill(c0, offset, offset + m * n, Float.NaN);  // must not be read
        }
        float[] first = null;
        for (Gemm gemm : new Gemm[] {new Gemm(ONE, true), new Gemm(TWO, true), new Gemm(THREE, true), new Gemm(TWO, false)}) {
            float[] c = c0.clone();
            gemm.gemm(transA, transB, m, n, k, alpha, a.data(), offset, b.data(), offset, beta, c, offset);
            if (first == null) {
                assertClose(a, b, alpha, beta, c0, offset, c);
                assertArrayEquals(Arrays.copyOf(c0, offset), Arrays.copyOf(c, offset), "wrote before C");
                first = c;
            } else {
                assertArrayEquals(first, c, "not bitwise identical across threads / SIMD on and off");
            }
        }
    }

    @Test
    void blockDepthFollowsTheL1DataCache() {
        assertEquals(768, Gemm.depthFor(48 * 1024));   // an A sliver of 36 KiB: 3/4 of L1
        assertEquals(512, Gemm.depthFor(32 * 1024));   // Zen 4
        assertEquals(128, Gemm.depthFor(4 * 1024));    // never shallower than 128
        assertEquals(1024, Gemm.depthFor(1 << 20));    // nor deeper than 1024
        assertTrue(Gemm.KC % 64 == 0 && Gemm.KC >= 128 && Gemm.KC <= 1024, "KC " + Gemm.KC);
    }

    @Test
    void allTransposesAtOddSizes() {
        int[][] sizes = {{1, 1, 1}, {1, 37, 5}, {29, 1, 7}, {5, 6, 1}, {13, 33, 17}, {12, 32, 16}, {11, 31, 15},
                {Gemm.MC + 1, GemmKernel.NR * 3 - 1, 40}, {Gemm.MC - 1, 65, Gemm.KC + 1}, {13, 33, 2 * Gemm.KC + 3},
                // whole MR-row slivers only, then with a last partial one
                {Gemm.MC + 2 * GemmKernel.MR, GemmKernel.NR + 5, Gemm.KC + 7}, {3 * GemmKernel.MR, 2 * GemmKernel.NR, 11}};
        long seed = 1;
        for (int[] s : sizes) {
            for (int t = 0; t < 4; t++) {
                check((t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], 1f, 0f, seed++);
            }
        }
    }

    @Test
    void alphaAndBeta() {
        float[][] alphaBeta = {{1f, 1f}, {0.5f, 0f}, {-1.5f, 1f}, {2f, -0.75f}, {1f, 0.25f}};
        long seed = 100;
        for (float[] ab : alphaBeta) {
            check(false, true, 27, 45, Gemm.KC + 9, ab[0], ab[1], seed++);
            check(true, false, 14, 70, 3, ab[0], ab[1], seed++);
        }
    }

    @Test
    void zeroDepthOrZeroAlphaScalesC() {
        for (float beta : new float[] {0f, 1f, -2f}) {
            float[] c = {Float.NaN, 1f, 2f, 3f, 4f, 5f, 6f};
            float[] expected = c.clone();
            for (int i = 1; i < c.length; i++) {
                expected[i] = beta == 0 ? 0f : beta * c[i];
            }
            float[] a = {1f, 2f}, b = {3f, 4f, 5f};
            float[] viaK = c.clone(), viaAlpha = c.clone();
            new Gemm(TWO, true).gemm(false, false, 2, 3, 0, 1f, a, 0, b, 0, beta, viaK, 1);
            assertArrayEquals(expected, viaK);
            new Gemm(TWO, true).gemm(false, false, 2, 3, 1, 0f, a, 0, b, 0, beta, viaAlpha, 1);
            assertArrayEquals(expected, viaAlpha);
        }
    }

    @Test
    void largeBlockedCaseOnTheThreads() {
        // several row blocks, column slivers and k blocks at once, each with a ragged last one
        check(false, false, 2 * Gemm.MC + 7, GemmKernel.NR * 3 + 3, 2 * Gemm.KC - 5, 1f, 1f, 7);
        check(true, true, Gemm.MC + 1, GemmKernel.NR + 1, Gemm.KC + 1, 1f, 0f, 8);
        // a transposed A in whole slivers, several B slivers sharing each
        check(true, false, 2 * Gemm.MC, GemmKernel.NR * 6 + 3, Gemm.KC + 5, 1f, 1f, 9);
        // more than one B block (NC columns), ragged; a transposed A whose last sliver is partial
        check(false, true, Gemm.MC + 5, 2 * Gemm.NC + GemmKernel.NR + 3, Gemm.KC + 2, 1f, 0.5f, 10);
        check(true, false, 2 * GemmKernel.MR + 6, 2 * GemmKernel.NR + 1, Gemm.KC + 50, 1f, 0f, 11);
        // enough row blocks for each of the two threads' tasks to pack its own rows of a plain A (the
        // first B block's pass), with a ragged last block, two k blocks and two B blocks
        check(false, true, 4 * Gemm.MC + 5, Gemm.NC + GemmKernel.NR + 3, Gemm.KC + 9, 1f, 0f, 12);
        check(false, false, 4 * Gemm.MC + 5, Gemm.NC + GemmKernel.NR + 3, Gemm.KC + 9, 1f, 1f, 13);
        // panels packed ahead (a transposed A; a plain A whose rows several tasks share) into the
        // other buffer while the last B block's tiles read this one: three k blocks, so both buffers
        // are written and then reused, and two or three B blocks
        check(true, false, 2 * Gemm.MC + 7, Gemm.NC + GemmKernel.NR + 3, 2 * Gemm.KC + 5, 1f, 1f, 14);
        check(true, true, 2 * Gemm.MC + 7, 2 * Gemm.NC + 1, 2 * Gemm.KC + 5, 1f, 0f, 15);
        check(false, false, GemmKernel.MR + 1, 2 * Gemm.NC + 5, 2 * Gemm.KC + 5, 1f, 0.5f, 16);
        // A panels larger than a B block, so each tile also reads a piece of its task's next sliver:
        // up to the panel's last sliver, whole here (cases 12-15 end on a partial one)
        check(false, false, 4 * Gemm.MC, Gemm.NC + 1, Gemm.KC + 9, 1f, 0f, 17);
        check(true, false, 4 * Gemm.MC, Gemm.NC + 1, Gemm.KC + 9, 1f, 1f, 18);
    }

    /**
     * A plain A whose rows are KC apart is read in place, all but a partial last sliver (see
     * Gemm.Operands.aInPlace): dense with k = KC, at sizes that end on a partial sliver, on whole
     * ones, with the columns split among tasks, and with no whole sliver at all.
     */
    @Test
    void aPlainAWithRowsKcApartIsReadInPlace() {
        check(false, true, 2 * Gemm.MC + 7, Gemm.NC + GemmKernel.NR + 3, Gemm.KC, 1f, 0.5f, 19);
        check(false, false, 4 * Gemm.MC, Gemm.NC + 1, Gemm.KC, 1f, 0f, 20);
        check(false, false, GemmKernel.MR + 5, 2 * Gemm.NC + 5, Gemm.KC, 1f, 1f, 21);
        check(false, true, 5, 40, Gemm.KC, 1f, 0f, 22);
    }

    /**
     * The same when A's rows are KC apart but k is smaller (attention's heads, read in a [tokens][768]
     * matrix): in place and packed from a dense copy, the sums are bitwise the same.
     */
    @Test
    void aPlainAReadInPlaceSumsAsWhenPacked() {
        SplittableRandom random = new SplittableRandom(23);
        int m = 3 * GemmKernel.MR + 4, n = 50, k = 70, lda = Gemm.KC;
        float[] strided = random(random, m * lda), dense = new float[m * k], b = random(random, k * n);
        for (int i = 0; i < m; i++) {
            System.arraycopy(strided, i * lda, dense, i * k, k);
        }
        Gemm gemm = new Gemm(ONE, true);
        for (boolean transB : new boolean[] {false, true}) {
            float[] inPlace = new float[m * n], packed = new float[m * n];
            gemm.gemmOnThisThread(false, transB, m, n, k, 1f, strided, 0, lda, b, 0, transB ? k : n, 0f, inPlace, 0, n);
            gemm.gemmOnThisThread(false, transB, m, n, k, 1f, dense, 0, k, b, 0, transB ? k : n, 0f, packed, 0, n);
            assertClose(new Operand(dense, 0, false, m, k), new Operand(b, 0, transB, k, n), 1f, 0f, packed, 0, packed);
            assertArrayEquals(packed, inPlace, "transB=" + transB);
        }
    }

    @Test
    void batchedMatchesOneAtATime() {
        int m = 23, n = 40, k = 19;
        SplittableRandom random = new SplittableRandom(42);
        // 7 runs one matrix per task; 2 runs them in turn, each split over the threads
        for (int batch : new int[] {7, 2}) {
            for (int t = 0; t < 4; t++) {
                boolean transA = (t & 1) != 0, transB = (t & 2) != 0;
                // strides larger than the matrices: gaps between them are left alone
                int strideA = m * k + 2, strideB = k * n + 1, strideC = m * n + 5;
                float[] a = random(random, batch * strideA), b = random(random, batch * strideB);
                float[] c0 = random(random, batch * strideC);
                for (Parallel parallel : new Parallel[] {ONE, TWO, THREE}) {
                    float[] batched = c0.clone(), single = c0.clone();
                    Gemm gemm = new Gemm(parallel, true);
                    gemm.gemmBatched(transA, transB, m, n, k, 0.5f, a, 0, gapped(transA ? k : m, transA ? m : k, strideA),
                            b, 0, gapped(transB ? n : k, transB ? k : n, strideB), 2f, batched, 0, gapped(m, n, strideC), batch);
                    for (int i = 0; i < batch; i++) {
                        gemm.gemm(transA, transB, m, n, k, 0.5f, a, i * strideA, b, i * strideB, 2f, single, i * strideC);
                        assertClose(new Operand(a, i * strideA, transA, m, k), new Operand(b, i * strideB, transB, k, n),
                                0.5f, 2f, c0, i * strideC, single);
                    }
                    assertArrayEquals(single, batched);
                }
            }
        }
    }

    /** Dense [rows, cols] matrices {@code stride} apart. */
    private static MatrixLayout gapped(int rows, int cols, int stride) {
        return new MatrixLayout(cols, 1, stride, 0);
    }

    @Test
    void nothingToDoForEmptyOutput() {
        float[] c = {Float.NaN};
        new Gemm(TWO, true).gemm(false, false, 0, 5, 3, 1f, new float[0], 0, new float[15], 0, 0f, c, 0);
        assertTrue(Float.isNaN(c[0]));
        assertEquals(1, c.length);
    }
}
