package dev.jbert.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.kernels.cuda.CudaBackend;
import dev.jbert.kernels.cuda.Precision;
import dev.jbert.kernels.reference.ReferenceAttentionSoftmax;
import dev.jbert.kernels.reference.ReferenceCrossEntropy;
import dev.jbert.kernels.reference.ReferenceElementwise;
import dev.jbert.kernels.reference.ReferenceEmbedding;
import dev.jbert.kernels.reference.ReferenceGelu;
import dev.jbert.kernels.reference.ReferenceGemm;
import dev.jbert.kernels.reference.ReferenceLayerNorm;
import dev.jbert.kernels.reference.ReferenceOptimizer;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The op harness: every op of every backend in {@link TestBackends} against its double-precision
 * reference, on random inputs, in odd sizes, with the tolerance written next to each op. A new
 * backend is tested by adding it to {@link TestBackends}; a new op by adding a method here.
 *
 * <p>Tolerances are for float arithmetic: about 1e-6 relative for one rounding per element,
 * more where a long sum or exp is involved. GEMM's is relative to the sum of |a||b| that each
 * element adds up, since cancellation can make the result itself tiny.
 */
class BackendOpsTest {
    private static final long SEED = 20261125;

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void gemmAllTransposes(Backend backend) {
        for (boolean transA : new boolean[] {false, true}) {
            for (boolean transB : new boolean[] {false, true}) {
                checkGemm(backend, transA, transB, 37, 53, 29, 1, 0, 1);
                checkGemm(backend, transA, transB, 131, 77, 300, 0.5, 1, 1); // crosses block edges
                checkGemm(backend, transA, transB, 1, 17, 1, -2, 0.25, 1);
                checkGemm(backend, transA, transB, 9, 33, 65, 1, 0, 5); // batched, like attention
            }
        }
    }

    private static void checkGemm(Backend backend, boolean transA, boolean transB, int m, int n, int k,
                                  double alpha, double beta, int batch) {
        OpHarness h = new OpHarness(backend, SEED + m + n + k);
        double[] a = h.gaussian(batch * m * k, 1);
        double[] b = h.gaussian(batch * k * n, 1);
        double[] c = h.gaussian(batch * m * n, 1);
        Buffer ca = h.upload(c);
        if (beta == 0) {
            backend.fill(ca, Float.NaN); // with beta 0, C must not be read
        }
        if (batch == 1) {
            backend.gemm(transA, transB, m, n, k, (float) alpha, h.upload(a), h.upload(b), (float) beta, ca);
        } else {
            backend.gemmBatched(transA, transB, m, n, k, (float) alpha, h.upload(a), h.upload(b),
                    (float) beta, ca, batch);
        }
        double[] expected = c.clone();
        ReferenceGemm.gemmBatched(transA, transB, m, n, k, alpha, a, b, beta, expected, batch);
        // the error bound of each element: the backend's GEMM tolerance times what it sums in magnitude
        double[] magnitude = new double[expected.length];
        ReferenceGemm.gemmBatched(transA, transB, m, n, k, Math.abs(alpha), abs(a), abs(b), 0, magnitude, batch);
        for (int i = 0; i < expected.length; i++) {
            magnitude[i] += Math.abs(beta * c[i]);
        }
        assertWithin(String.format("gemm(%b, %b, m=%d, n=%d, k=%d, batch=%d)", transA, transB, m, n, k, batch),
                h.download(ca), expected, magnitude, TestBackends.gemmTolerance(backend));
    }

    /**
     * A Linear layer's forward against the reference, and, on the CPU, bit for bit against the GEMM
     * followed by addBias, which it may fuse: k deep enough for several k blocks, and partial tiles.
     */
    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void linearForwardIsTheGemmPlusTheBias(Backend backend) {
        for (int[] shape : new int[][] {{37, 45, 1700}, {5, 3, 7}}) {
            int rows = shape[0], out = shape[1], in = shape[2];
            OpHarness h = new OpHarness(backend, SEED + rows + in);
            double[] x = h.gaussian(rows * in, 1), w = h.gaussian(out * in, 1), bias = h.gaussian(out, 1);
            Buffer bx = h.upload(x), bw = h.upload(w), bb = h.upload(bias);
            Buffer fused = backend.allocateFloats(rows * out), twoOps = backend.allocateFloats(rows * out);
            backend.fill(fused, Float.NaN); // y is written, never read
            backend.linearForward(bx, bw, bb, fused, rows, out, in);
            backend.gemm(false, true, rows, out, in, 1, bx, bw, 0, twoOps);
            backend.addBias(twoOps, bb, rows, out);
            if (!(backend instanceof CudaBackend)) { // cuBLASLt's GEMM may pick another algorithm than cuBLAS's
                assertArrayEquals(h.download(twoOps), h.download(fused), "linearForward " + rows + " x " + out + " x " + in);
            }
            double[] expected = new double[rows * out], magnitude = new double[rows * out];
            ReferenceGemm.gemm(false, true, rows, out, in, 1, x, w, 0, expected);
            ReferenceGemm.gemm(false, true, rows, out, in, 1, abs(x), abs(w), 0, magnitude);
            for (int i = 0; i < expected.length; i++) {
                expected[i] += bias[i % out];
                magnitude[i] += Math.abs(bias[i % out]);
            }
            assertWithin("linearForward", h.download(fused), expected, magnitude, TestBackends.gemmTolerance(backend));
        }
    }

    /**
     * A Linear layer's backward against the reference: dW and dBias accumulate into what they held,
     * dx is overwritten or accumulated. On the CPU, bit for bit the two GEMMs and biasBackward it
     * stands for; the CUDA backend may round differently within the GEMM's tolerance.
     */
    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void linearBackwardIsTheTwoGemmsAndTheBiasGradient(Backend backend) {
        for (int[] shape : new int[][] {{37, 45, 300}, {300, 7, 5}, {5, 3, 1}}) {
            int rows = shape[0], out = shape[1], in = shape[2];
            for (boolean accumulate : new boolean[] {false, true}) {
                OpHarness h = new OpHarness(backend, SEED + rows + out + in + (accumulate ? 1 : 0));
                double[] dy = h.gaussian(rows * out, 1), x = h.gaussian(rows * in, 1), w = h.gaussian(out * in, 1);
                double[] dw = h.gaussian(out * in, 1), db = h.gaussian(out, 1), dx = h.gaussian(rows * in, 1);
                Buffer bdy = h.upload(dy), bx = h.upload(x), bw = h.upload(w);
                Buffer fusedDw = h.upload(dw), fusedDb = h.upload(db), fusedDx = h.upload(dx);
                if (!accumulate) {
                    backend.fill(fusedDx, Float.NaN); // overwritten, never read
                }
                backend.linearBackward(bdy, bx, bw, fusedDw, fusedDb, fusedDx, accumulate, rows, out, in);
                if (!(backend instanceof CudaBackend)) {
                    Buffer opsDw = h.upload(dw), opsDb = h.upload(db), opsDx = h.upload(dx);
                    backend.gemm(true, false, out, in, rows, 1, bdy, bx, 1, opsDw);
                    backend.biasBackward(bdy, opsDb, rows, out);
                    backend.gemm(false, false, rows, in, out, 1, bdy, bw, accumulate ? 1 : 0, opsDx);
                    String what = "linearBackward " + rows + " x " + out + " x " + in + ": ";
                    assertArrayEquals(h.download(opsDw), h.download(fusedDw), what + "dW");
                    assertArrayEquals(h.download(opsDb), h.download(fusedDb), what + "dBias");
                    assertArrayEquals(h.download(opsDx), h.download(fusedDx), what + "dx");
                }
                double[] expectedDw = dw.clone(), magnitudeDw = abs(dw);
                ReferenceGemm.gemm(true, false, out, in, rows, 1, dy, x, 1, expectedDw);
                ReferenceGemm.gemm(true, false, out, in, rows, 1, abs(dy), abs(x), 1, magnitudeDw);
                double[] expectedDx = accumulate ? dx.clone() : new double[rows * in];
                double[] magnitudeDx = accumulate ? abs(dx) : new double[rows * in];
                ReferenceGemm.gemm(false, false, rows, in, out, 1, dy, w, 1, expectedDx);
                ReferenceGemm.gemm(false, false, rows, in, out, 1, abs(dy), abs(w), 1, magnitudeDx);
                double[] expectedDb = db.clone(), magnitudeDb = abs(db);
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < out; c++) {
                        expectedDb[c] += dy[r * out + c];
                        magnitudeDb[c] += Math.abs(dy[r * out + c]);
                    }
                }
                double tolerance = TestBackends.gemmTolerance(backend);
                assertWithin("dW", h.download(fusedDw), expectedDw, magnitudeDw, tolerance);
                assertWithin("dx", h.download(fusedDx), expectedDx, magnitudeDx, tolerance);
                // float sums of the unrounded dy in every mode, in any order: rows + 1 roundings at most
                assertWithin("dBias", h.download(fusedDb), expectedDb, magnitudeDb, (rows + 1) * 0x1.0p-24);
            }
        }
    }

    /**
     * Each element within {@code tolerance} times the magnitude its sum passed through (a NaN fails):
     * the error bound of a GEMM, whose tolerance is relative to what it sums in magnitude.
     */
    private static void assertWithin(String what, float[] actual, double[] expected, double[] magnitude, double tolerance) {
        for (int i = 0; i < expected.length; i++) {
            double bound = tolerance * magnitude[i] + 1e-30;
            assertTrue(Math.abs(actual[i] - expected[i]) <= bound,
                    what + " element " + i + ": " + actual[i] + ", expected " + expected[i] + " (bound " + bound + ")");
        }
    }

    /**
     * Batched products on matrices laid out as attention lays out its heads: groups of matrices
     * side by side in wide rows (members one row length apart, rows far apart), gaps between groups.
     * What lies between the matrices of C must be left alone.
     */
    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void gemmBatchedOnLaidOutMatrices(Backend backend) {
        for (boolean transA : new boolean[] {false, true}) {
            for (boolean transB : new boolean[] {false, true}) {
                checkLaidOutGemm(backend, transA, transB, 13, 16, 8, 3, 2, 0.5, 0);  // like Q Kᵀ over (sequence, head)
                checkLaidOutGemm(backend, transA, transB, 13, 8, 13, 2, 3, 1, 0.5);
                checkLaidOutGemm(backend, transA, transB, 13, 8, 13, 3, 1, 1, 0);    // one group: members interleaved in rows
                checkLaidOutGemm(backend, transA, transB, 131, 37, 300, 1, 2, 1, 1); // few, large: split over threads
            }
        }
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void gemmBatchedRejectsLayoutsOutsideTheBuffer(Backend backend) {
        Buffer a = backend.allocateFloats(10), b = backend.allocateFloats(18), c = backend.allocateFloats(12);
        // two [2, 3] matrices of A, 6 apart, need 12 floats
        IllegalArgumentException past = assertThrows(IllegalArgumentException.class, () -> backend.gemmBatched(false, false,
                2, 3, 3, 1, a, MatrixLayout.dense(2, 3), b, MatrixLayout.dense(3, 3), 0, c, MatrixLayout.dense(2, 3), 2));
        assertTrue(past.getMessage().startsWith("a has 10 elements"), past.getMessage());
        // rows of 3 cannot be 2 apart
        IllegalArgumentException rows = assertThrows(IllegalArgumentException.class, () -> backend.gemmBatched(false, false,
                2, 3, 3, 1, a, new MatrixLayout(2, 1, 4, 0), b, MatrixLayout.dense(3, 3), 0, c, MatrixLayout.dense(2, 3), 2));
        assertTrue(rows.getMessage().startsWith("a: rows of 3 elements"), rows.getMessage());
    }

    /** {@code groups x perGroup} products of [m, k] x [k, n], each operand's matrices side by side in rows with padding. */
    private static void checkLaidOutGemm(Backend backend, boolean transA, boolean transB, int m, int n, int k,
                                         int perGroup, int groups, double alpha, double beta) {
        int batch = perGroup * groups;
        MatrixLayout aLayout = sideBySide(transA ? k : m, transA ? m : k, perGroup);
        MatrixLayout bLayout = sideBySide(transB ? n : k, transB ? k : n, perGroup);
        MatrixLayout cLayout = sideBySide(m, n, perGroup);
        OpHarness h = new OpHarness(backend, SEED + 7 * m + n + k);
        double[] a = h.gaussian((int) aLayout.end(batch, transA ? k : m, transA ? m : k) + 5, 1);
        double[] b = h.gaussian((int) bLayout.end(batch, transB ? n : k, transB ? k : n) + 5, 1);
        double[] c = h.gaussian((int) cLayout.end(batch, m, n) + 5, 1);
        Buffer bc = h.upload(c);
        backend.gemmBatched(transA, transB, m, n, k, (float) alpha, h.upload(a), aLayout, h.upload(b), bLayout,
                (float) beta, bc, cLayout, batch);
        double[] expected = c.clone(), magnitude = new double[c.length];
        ReferenceGemm.gemmBatched(transA, transB, m, n, k, alpha, a, aLayout, b, bLayout, beta, expected, cLayout, batch);
        ReferenceGemm.gemmBatched(transA, transB, m, n, k, Math.abs(alpha), abs(a), aLayout, abs(b), bLayout,
                0, magnitude, cLayout, batch);
        for (int i = 0; i < c.length; i++) {
            magnitude[i] += Math.abs(beta * c[i]);
        }
        assertWithin(String.format("laid-out gemm(%b, %b, m=%d, n=%d, k=%d, %d x %d)", transA, transB, m, n, k, groups, perGroup),
                h.download(bc), expected, magnitude, TestBackends.gemmTolerance(backend));
    }

    /** perGroup [rows, cols] matrices side by side in rows of perGroup cols + 3, then a gap of 2 rows before the next group. */
    private static MatrixLayout sideBySide(int rows, int cols, int perGroup) {
        int rowStride = perGroup * cols + 3;
        return new MatrixLayout(rowStride, perGroup, (rows + 2) * rowStride, cols);
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void gemmWithZeroDepthScalesC(Backend backend) {
        OpHarness h = new OpHarness(backend, SEED);
        double[] c = h.gaussian(15, 1);
        Buffer buffer = h.upload(c);
        backend.gemm(false, false, 3, 5, 0, 1, backend.allocateFloats(0), backend.allocateFloats(0), 0.5f, buffer);
        OpHarness.assertClose("k = 0", Arrays.stream(c).map(v -> v * 0.5).toArray(), h.download(buffer), 0, 1e-7);
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void biasAndResidual(Backend backend) {
        OpHarness h = new OpHarness(backend, SEED);
        int rows = 267; // more than two blocks of the CPU's bias gradient (128 rows each)
        int cols = 301; // 80,367 elements: more than one parallel range
        double[] x = h.gaussian(rows * cols, 1);
        double[] bias = h.gaussian(cols, 1);
        Buffer bx = h.upload(x);
        backend.addBias(bx, h.upload(bias), rows, cols);
        double[] expected = x.clone();
        ReferenceElementwise.addBias(expected, bias, rows, cols);
        h.assertClose("addBias", expected, bx, 0, 1e-7);

        double[] dBias = h.gaussian(cols, 1);
        Buffer bdBias = h.upload(dBias);
        backend.biasBackward(h.upload(x), bdBias, rows, cols);
        double[] expectedDBias = dBias.clone();
        ReferenceElementwise.biasBackward(x, expectedDBias, rows, cols);
        // 267 float additions in any order: partial sums near 16 lose about 1e-6 each, 2e-5 in all when
        // added one after another (cuBLAS's GEMV on an H200, 2026-11-27); the CPU sums in blocks
        h.assertClose("biasBackward", expectedDBias, bdBias, 5e-5, 1e-5);

        double[] y = h.gaussian(rows * cols, 1);
        Buffer by = h.upload(y);
        backend.add(h.upload(x), by, by); // out aliases b
        double[] sum = new double[x.length];
        ReferenceElementwise.add(x, y, sum);
        h.assertClose("add", sum, by, 0, 1e-7);
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void subtract(Backend backend) {
        OpHarness h = new OpHarness(backend, SEED);
        int n = 20_171; // more than one parallel range, not a multiple of the vector width
        double[] after = h.gaussian(n, 1);
        double[] before = h.gaussian(n, 1);
        for (int i = 0; i < n; i += 2) {
            before[i] = (float) (after[i] * (1 - 1e-4)); // nearly equal, as parameters before and after a step
        }
        Buffer out = h.upload(before);
        backend.subtract(h.upload(after), out, out); // out aliases b
        double[] difference = new double[n];
        ReferenceElementwise.subtract(after, before, difference);
        h.assertClose("subtract", difference, out, 0, 1e-7);
        Buffer aliased = h.upload(after);
        backend.subtract(aliased, h.upload(before), aliased); // out aliases a
        h.assertClose("subtract into a", difference, aliased, 0, 1e-7);
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void swapMiddleAxesIsExactAndUndoneBySwappingBack(Backend backend) {
        checkSwapMiddleAxes(backend, 3, 7, 5, 11);
        checkSwapMiddleAxes(backend, 1, 3, 301, 7); // few long rows, as when merging Q, K and V
    }

    private static void checkSwapMiddleAxes(Backend backend, int d0, int d1, int d2, int d3) {
        OpHarness h = new OpHarness(backend, SEED);
        double[] x = h.gaussian(d0 * d1 * d2 * d3, 1);
        Buffer swapped = backend.allocateFloats(x.length);
        backend.swapMiddleAxes(h.upload(x), swapped, d0, d1, d2, d3);
        double[] expected = new double[x.length];
        ReferenceElementwise.swapMiddleAxes(x, expected, d0, d1, d2, d3);
        h.assertClose("swapMiddleAxes", expected, swapped, 0, 0);
        Buffer back = backend.allocateFloats(x.length);
        backend.swapMiddleAxes(swapped, back, d0, d2, d1, d3);
        h.assertClose("swapMiddleAxes back", x, back, 0, 0);
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void gelu(Backend backend) {
        OpHarness h = new OpHarness(backend, SEED);
        double[] x = h.gaussian(20_011, 3);
        double[] dy = h.gaussian(x.length, 1);
        Buffer y = backend.allocateFloats(x.length);
        backend.geluForward(h.upload(x), y);
        double[] expected = new double[x.length];
        ReferenceGelu.geluForward(x, expected);
        // the erf approximation is good to 1.5e-7 absolute, scaled by |x|
        h.assertClose("geluForward", expected, y, 1e-6, 1e-6);

        Buffer dx = backend.allocateFloats(x.length);
        backend.geluBackward(h.upload(x), h.upload(dy), dx);
        double[] expectedDx = new double[x.length];
        ReferenceGelu.geluBackward(x, dy, expectedDx);
        h.assertClose("geluBackward", expectedDx, dx, 2e-6, 2e-6);

        // both in one pass (in place, as the model calls it): the same bits as the two ops
        Buffer yAgain = backend.allocateFloats(x.length);
        Buffer dxInPlace = h.upload(dy);
        backend.geluForwardAndBackward(h.upload(x), yAgain, dxInPlace, dxInPlace);
        assertArrayEquals(h.download(y), h.download(yAgain), "geluForwardAndBackward: y");
        assertArrayEquals(h.download(dx), h.download(dxInPlace), "geluForwardAndBackward: dx");
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void dropoutMatchesThePhiloxMaskExactly(Backend backend) {
        OpHarness h = new OpHarness(backend, SEED);
        double[] x = h.gaussian(20_003, 1);
        Buffer y = backend.allocateFloats(x.length);
        backend.dropout(h.upload(x), y, 0.1f, 42, 7);
        double[] expected = new double[x.length];
        ReferenceElementwise.dropout(x, expected, 0.1, 42, 7);
        float[] actual = h.download(y);
        h.assertClose("dropout", expected, y, 0, 2e-7); // x * (1 / (1 - p)) in float
        for (int i = 0; i < x.length; i++) {
            assertEquals(expected[i] == 0, actual[i] == 0, "dropout keeps or drops element " + i + " as the reference does");
        }
    }

    /**
     * LayerNorm forward and backward, {rows, cols}: 45 x 99 (odd sizes), 150 x 768 (BERT's width,
     * several blocks of rows in the backward, the last one partial) and 20 x 1100 (rows wider than a
     * GPU warp keeps in registers).
     */
    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void layerNorm(Backend backend) {
        for (int[] shape : new int[][] {{45, 99}, {150, 768}, {20, 1100}}) {
            layerNorm(backend, shape[0], shape[1]);
        }
    }

    private static void layerNorm(Backend backend, int rows, int cols) {
        OpHarness h = new OpHarness(backend, SEED + rows);
        String shape = ", " + rows + " x " + cols;
        double[] x = h.gaussian(rows * cols, 2);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (x[i] + 3); // an offset, as real activations have
        }
        double[] gamma = h.gaussian(cols, 1);
        double[] beta = h.gaussian(cols, 1);
        double eps = 1e-12;
        Buffer y = backend.allocateFloats(x.length);
        Buffer mean = backend.allocateFloats(rows);
        Buffer rstd = backend.allocateFloats(rows);
        backend.layerNormForward(h.upload(x), h.upload(gamma), h.upload(beta), y, mean, rstd, rows, cols, (float) eps);
        double[] ey = new double[x.length];
        double[] eMean = new double[rows];
        double[] eRstd = new double[rows];
        ReferenceLayerNorm.layerNormForward(x, gamma, beta, ey, eMean, eRstd, rows, cols, eps);
        h.assertClose("layerNorm y" + shape, ey, y, 1e-5, 1e-5);
        h.assertClose("layerNorm mean" + shape, eMean, mean, 1e-6, 1e-6);
        h.assertClose("layerNorm rstd" + shape, eRstd, rstd, 0, 1e-5);

        double[] dy = h.gaussian(x.length, 1);
        double[] dGamma = h.gaussian(cols, 1);
        double[] dBeta = h.gaussian(cols, 1);
        Buffer dx = backend.allocateFloats(x.length);
        Buffer bdGamma = h.upload(dGamma);
        Buffer bdBeta = h.upload(dBeta);
        // the backward gets the reference's saved statistics, so only its own arithmetic is tested
        backend.layerNormBackward(h.upload(dy), h.upload(x), h.upload(gamma), h.upload(eMean), h.upload(eRstd),
                dx, bdGamma, bdBeta, rows, cols);
        double[] edx = new double[x.length];
        double[] edGamma = dGamma.clone();
        double[] edBeta = dBeta.clone();
        ReferenceLayerNorm.layerNormBackward(dy, x, gamma, toFloatPrecision(eMean), toFloatPrecision(eRstd),
                edx, edGamma, edBeta, rows, cols);
        h.assertClose("layerNorm dx" + shape, edx, dx, 1e-5, 1e-4);
        h.assertClose("layerNorm dGamma" + shape, edGamma, bdGamma, 1e-4, 1e-4);
        h.assertClose("layerNorm dBeta" + shape, edBeta, bdBeta, 1e-4, 1e-5);
    }

    /**
     * The attention shapes the fused-attention tests run, {tokens, headDim}: 37 tokens and 8 dimensions
     * (rows not a multiple of the vector width; a head's [T, T] starts inside a Philox tile), BERT's 64
     * dimensions with 45 and 130 tokens (blocks of query and key rows that end part-way, and several of
     * each), and rows that start on a Philox tile (a multiple of 32 tokens: the one-kernel forwards of
     * the CUDA backend's bf16 mode then draw four elements a block), with 64 and with MiniLM's 32 dimensions.
     */
    private static final int[][] ATTENTION_SHAPES = {{37, 8}, {45, 64}, {130, 64}, {128, 64}, {96, 32}};

    /**
     * Attention for an evaluation, which a backend may run one (sequence, head) at a time with the
     * probabilities kept in cache: the context must be the three ops' (gemmBatched, the softmax,
     * gemmBatched), bit for bit on the CPU, which runs the same GEMM and softmax code per head, and
     * within the GEMM's tolerance elsewhere. Q, K and V in place in a [B, T, 3, H, D] projection as
     * the model lays them out, the second sequence padded.
     */
    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void attentionEvaluationIsTheThreeOps(Backend backend) {
        for (int[] shape : ATTENTION_SHAPES) {
            int batch = 2, heads = 3, tokens = shape[0], headDim = shape[1], c = heads * headDim;
            OpHarness h = new OpHarness(backend, SEED + 11 + tokens);
            Buffer bmask = h.upload(paddedMask(batch, tokens));
            Buffer qkv = h.upload(h.gaussian(batch * tokens * 3 * c, 1));
            Buffer q = qkv.slice(0, qkv.length()), k = qkv.slice(c, qkv.length() - c), v = qkv.slice(2 * c, qkv.length() - 2 * c);
            MatrixLayout inQkv = new MatrixLayout(3 * c, heads, tokens * 3 * c, headDim);
            MatrixLayout inContext = new MatrixLayout(c, heads, tokens * c, headDim);
            float scale = (float) (1 / Math.sqrt(headDim));
            Buffer fused = poisoned(backend, batch * tokens * c);
            backend.attentionEvaluation(q, k, v, inQkv, bmask, fused, inContext, backend.allocateFloats(batch * heads * tokens * tokens),
                    batch, heads, tokens, headDim, scale);
            Buffer scores = backend.allocateFloats(batch * heads * tokens * tokens), threeOps = backend.allocateFloats(batch * tokens * c);
            MatrixLayout dense = MatrixLayout.dense(tokens, tokens);
            backend.gemmBatched(false, true, tokens, tokens, headDim, 1, q, inQkv, k, inQkv, 0, scores, dense, batch * heads);
            backend.attentionSoftmaxForward(scores, bmask, scores, batch, heads, tokens, scale);
            backend.gemmBatched(false, false, tokens, headDim, tokens, 1, scores, dense, v, inQkv, 0, threeOps, inContext, batch * heads);
            assertSameOrClose(backend, h, "attention context, " + tokens + " tokens x " + headDim, threeOps, fused);
            // Q, K and V in three buffers of their own, as a backend that rounds them in one pass must also take
            double[] values = toDoubles(h.download(qkv));
            Buffer[] apart = {h.upload(values), h.upload(values), h.upload(values)};
            Buffer separate = poisoned(backend, batch * tokens * c);
            backend.attentionEvaluation(apart[0], apart[1].slice(c, qkv.length() - c), apart[2].slice(2 * c, qkv.length() - 2 * c),
                    inQkv, bmask, separate, inContext, backend.allocateFloats(batch * heads * tokens * tokens),
                    batch, heads, tokens, headDim, scale);
            assertSameOrClose(backend, h, "attention context from separate Q, K, V, " + tokens + " tokens x " + headDim,
                    threeOps, separate);
        }
    }

    /**
     * Attention in a training forward and its backward, which a backend may run one (sequence, head)
     * at a time in cache: the probabilities, the context, and dQ, dK, dV must be the separate ops'
     * (three forward, five backward), bit for bit on the CPU, which runs the same code per head, and
     * within the GEMM's tolerance elsewhere. Laid out as the model lays them out, the second sequence padded.
     */
    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void attentionTrainingIsTheSeparateOps(Backend backend) {
        for (int[] shape : ATTENTION_SHAPES) {
            attentionTrainingIsTheSeparateOps(backend, shape[0], shape[1]);
        }
    }

    private static void attentionTrainingIsTheSeparateOps(Backend backend, int tokens, int headDim) {
        OpHarness h = new OpHarness(backend, SEED + 12 + tokens);
        int batch = 2, heads = 3, c = heads * headDim, matrices = batch * heads;
        int square = matrices * tokens * tokens;
        float p = 0.1f, scale = (float) (1 / Math.sqrt(headDim));
        long seed = 42, stream = 7;
        String shape = ", " + tokens + " tokens x " + headDim;
        Buffer bmask = h.upload(paddedMask(batch, tokens));
        Buffer qkv = h.upload(h.gaussian(batch * tokens * 3 * c, 1));
        Buffer q = qkv.slice(0, qkv.length()), k = qkv.slice(c, qkv.length() - c), v = qkv.slice(2 * c, qkv.length() - 2 * c);
        MatrixLayout inQkv = new MatrixLayout(3 * c, heads, tokens * 3 * c, headDim);
        MatrixLayout inContext = new MatrixLayout(c, heads, tokens * c, headDim);
        MatrixLayout dense = MatrixLayout.dense(tokens, tokens);

        Buffer probs = poisoned(backend, square), context = poisoned(backend, batch * tokens * c);
        backend.attentionTrainingForward(q, k, v, inQkv, bmask, probs, backend.allocateFloats(square), context, inContext,
                batch, heads, tokens, headDim, scale, p, seed, stream);
        Buffer opsProbs = backend.allocateFloats(square), opsDropped = backend.allocateFloats(square);
        Buffer opsContext = backend.allocateFloats(batch * tokens * c);
        backend.gemmBatched(false, true, tokens, tokens, headDim, 1, q, inQkv, k, inQkv, 0, opsProbs, dense, matrices);
        backend.attentionSoftmaxDropoutForward(opsProbs, bmask, opsProbs, opsDropped, batch, heads, tokens, scale, p, seed, stream);
        backend.gemmBatched(false, false, tokens, headDim, tokens, 1, opsDropped, dense, v, inQkv, 0, opsContext, inContext,
                matrices);
        assertSameOrClose(backend, h, "attention probs" + shape, opsProbs, probs);
        assertSameOrClose(backend, h, "attention context" + shape, opsContext, context);

        Buffer dContext = h.upload(h.gaussian(batch * tokens * c, 1));
        Buffer dQkv = poisoned(backend, qkv.length()), opsDQkv = backend.allocateFloats(qkv.length());
        backend.attentionTrainingBackward(q, k, v, inQkv, opsProbs, opsContext, dContext, inContext,
                dQkv.slice(0, dQkv.length()), dQkv.slice(c, dQkv.length() - c), dQkv.slice(2 * c, dQkv.length() - 2 * c),
                backend.allocateFloats(square), backend.allocateFloats(square), batch, heads, tokens, headDim, scale, p,
                seed, stream);
        Buffer dScores = backend.allocateFloats(square);
        backend.gemmBatched(false, true, tokens, tokens, headDim, 1, dContext, inContext, v, inQkv, 0, dScores, dense, matrices);
        backend.attentionDropoutSoftmaxBackward(opsProbs, dScores, opsDropped, dScores, batch, heads, tokens, scale, p, seed, stream);
        backend.gemmBatched(true, false, tokens, headDim, tokens, 1, opsDropped, dense, dContext, inContext, 0,
                opsDQkv.slice(2 * c, opsDQkv.length() - 2 * c), inQkv, matrices);
        backend.gemmBatched(false, false, tokens, headDim, tokens, 1, dScores, dense, k, inQkv, 0,
                opsDQkv.slice(0, opsDQkv.length()), inQkv, matrices);
        backend.gemmBatched(true, false, tokens, headDim, tokens, 1, dScores, dense, q, inQkv, 0,
                opsDQkv.slice(c, opsDQkv.length() - c), inQkv, matrices);
        assertSameOrClose(backend, h, "attention dQkv" + shape, opsDQkv, dQkv);
    }

    /** [batch, tokens] ones, except the second sequence, which is padded after 20 tokens. */
    private static int[] paddedMask(int batch, int tokens) {
        int[] mask = new int[batch * tokens];
        Arrays.fill(mask, 1);
        Arrays.fill(mask, tokens + 20, 2 * tokens, 0);
        return mask;
    }

    /** An output buffer full of NaN, so that an element the op does not write fails the comparison. */
    private static Buffer poisoned(Backend backend, int length) {
        Buffer buffer = backend.allocateFloats(length);
        backend.fill(buffer, Float.NaN);
        return buffer;
    }

    /**
     * Bit for bit on the CPU. On a GPU, elementwise within 10x the GEMM's tolerance, except in bf16
     * mode, where the fused ops multiply in bf16 and the separate ops' gemmBatched in tf32: there, as a
     * whole, {@code ||actual - expected|| / ||expected||} within 2x the GEMM's tolerance (2e-2; bf16
     * products land between 1e-3 and 1e-2, 2e-3 to 4e-3 here on an H200, a wrong index near 1). A NaN,
     * as from an unwritten element, fails.
     */
    private static void assertSameOrClose(Backend backend, OpHarness h, String what, Buffer expected, Buffer actual) {
        if (backend instanceof CudaBackend cuda && cuda.precision() == Precision.BF16) {
            float[] e = h.download(expected), a = h.download(actual);
            double difference = 0, norm = 0;
            for (int i = 0; i < e.length; i++) {
                assertTrue(Float.isFinite(a[i]), what + ": element " + i + " is " + a[i]);
                difference += (double) (a[i] - e[i]) * (a[i] - e[i]);
                norm += (double) e[i] * e[i];
            }
            double relative = Math.sqrt(difference / norm), bound = 2 * TestBackends.gemmTolerance(backend);
            System.out.printf("%s, %s: relative error %.2e (bound %.1e)%n", what, backend.name(), relative, bound);
            assertTrue(relative <= bound, what + ": relative error " + relative + " over " + bound);
        } else if (backend instanceof CudaBackend) {
            h.assertClose(what, toDoubles(h.download(expected)), actual, 1e-5, 10 * TestBackends.gemmTolerance(backend));
        } else {
            assertArrayEquals(h.download(expected), h.download(actual), what);
        }
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void attentionSoftmax(Backend backend) {
        OpHarness h = new OpHarness(backend, SEED);
        int batch = 3, heads = 2, tokens = 37;
        int[] mask = new int[batch * tokens];
        int[] lengths = {37, 20, 1}; // padded sequences, down to a single real token
        for (int b = 0; b < batch; b++) {
            Arrays.fill(mask, b * tokens, b * tokens + lengths[b], 1);
        }
        mask[5] = 0; // and a hole in the middle, which a prefix-only kernel would miss
        double scale = 1 / Math.sqrt(64);
        double[] scores = h.gaussian(batch * heads * tokens * tokens, 8);
        Buffer probs = backend.allocateFloats(scores.length);
        backend.attentionSoftmaxForward(h.upload(scores), h.upload(mask), probs, batch, heads, tokens, (float) scale);
        double[] expected = new double[scores.length];
        ReferenceAttentionSoftmax.attentionSoftmaxForward(scores, mask, expected, batch, heads, tokens, scale);
        h.assertClose("attention probs", expected, probs, 1e-7, 2e-6);
        // with its dropout, which a backend may fuse: the same probabilities up to rounding, and their
        // dropout with the mask the dropout op draws. 37 tokens a row: rows start inside Philox's tiles
        Buffer fusedProbs = backend.allocateFloats(scores.length), fusedDropped = backend.allocateFloats(scores.length);
        backend.attentionSoftmaxDropoutForward(h.upload(scores), h.upload(mask), fusedProbs, fusedDropped,
                batch, heads, tokens, (float) scale, 0.1f, 42, 9);
        h.assertClose("attention probs (with dropout)", expected, fusedProbs, 1e-7, 2e-6);
        double[] expectedFusedDropped = new double[scores.length];
        ReferenceElementwise.dropout(toDoubles(h.download(fusedProbs)), expectedFusedDropped, 0.1f, 42, 9);
        h.assertClose("attention probsDropped", expectedFusedDropped, fusedDropped, 0, 1e-6);

        double[] dProbs = h.gaussian(scores.length, 1);
        Buffer dScores = h.upload(dProbs);
        backend.attentionSoftmaxBackward(h.upload(expected), dScores, dScores, batch, heads, tokens, (float) scale);
        double[] expectedDScores = new double[scores.length];
        ReferenceAttentionSoftmax.attentionSoftmaxBackward(toFloatPrecision(expected), dProbs, expectedDScores,
                batch, heads, tokens, scale);
        h.assertClose("attention dScores", expectedDScores, dScores, 1e-7, 1e-5);

        // through the attention dropout: against the reference's ops, dropout of the probabilities and
        // of the gradient with the forward's mask, then the softmax backward (a backend may fuse them).
        // 37 tokens a row: rows start inside Philox's 32-element tiles, which a fused kernel must follow
        float p = 0.1f;
        long seed = 42, stream = 9;
        Buffer probsDropped = h.upload(h.gaussian(scores.length, 1)); // overwritten
        Buffer dFused = h.upload(dProbs);
        backend.attentionDropoutSoftmaxBackward(h.upload(expected), dFused, probsDropped, dFused, batch, heads, tokens,
                (float) scale, p, seed, stream);
        double[] expectedDropped = new double[scores.length];
        ReferenceElementwise.dropout(toFloatPrecision(expected), expectedDropped, p, seed, stream);
        h.assertClose("attention probsDropped drawn again", expectedDropped, probsDropped, 0, 1e-6);
        double[] dDropped = new double[scores.length];
        ReferenceElementwise.dropout(dProbs, dDropped, p, seed, stream);
        double[] expectedThroughDropout = new double[scores.length];
        ReferenceAttentionSoftmax.attentionSoftmaxBackward(toFloatPrecision(expected), dDropped,
                expectedThroughDropout, batch, heads, tokens, scale);
        h.assertClose("attention dScores through dropout", expectedThroughDropout, dFused, 1e-7, 1e-5);
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void embedding(Backend backend) {
        OpHarness h = new OpHarness(backend, SEED);
        int vocab = 50, rows = 61, dim = 37;
        int[] ids = h.ints(rows, vocab); // 61 rows over 50 ids: some repeat
        double[] table = h.gaussian(vocab * dim, 1);
        double[] out = h.gaussian(rows * dim, 1);
        for (boolean accumulate : new boolean[] {false, true}) {
            Buffer bout = h.upload(out);
            backend.embeddingForward(h.upload(ids), h.upload(table), bout, rows, dim, accumulate);
            double[] expected = out.clone();
            ReferenceEmbedding.embeddingForward(ids, table, expected, rows, dim, accumulate);
            h.assertClose("embedding accumulate=" + accumulate, expected, bout, 0, 1e-7);
        }
        double[] dTable = h.gaussian(vocab * dim, 1);
        Buffer bdTable = h.upload(dTable);
        backend.embeddingBackward(h.upload(ids), h.upload(out), bdTable, rows, dim);
        double[] expected = dTable.clone();
        ReferenceEmbedding.embeddingBackward(ids, out, expected, rows, dim);
        h.assertClose("embedding backward", expected, bdTable, 1e-6, 1e-6);
        // token types: 2 ids over 301 rows, so each id sums a long run of rows (which a backend may split)
        int typeRows = 301;
        int[] types = h.ints(typeRows, 2);
        double[] dTypes = h.gaussian(typeRows * dim, 1);
        double[] typeTable = h.gaussian(2 * dim, 1);
        Buffer bTypeTable = h.upload(typeTable);
        backend.embeddingBackward(h.upload(types), h.upload(dTypes), bTypeTable, typeRows, dim);
        ReferenceEmbedding.embeddingBackward(types, dTypes, typeTable, typeRows, dim);
        h.assertClose("embedding backward, long runs", typeTable, bTypeTable, 1e-5, 1e-5);

        int[] bad = ids.clone();
        bad[7] = vocab;
        assertThrows(IndexOutOfBoundsException.class,
                () -> backend.embeddingForward(h.upload(bad), h.upload(table), backend.allocateFloats(rows * dim), rows, dim, false));
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void crossEntropy(Backend backend) {
        OpHarness h = new OpHarness(backend, SEED);
        int rows = 5, classes = 301;
        double[] logits = h.gaussian(rows * classes, 4);
        int[] targets = h.ints(rows, classes);
        Buffer probs = backend.allocateFloats(logits.length);
        Buffer losses = backend.allocateFloats(rows);
        backend.crossEntropyForward(h.upload(logits), h.upload(targets), probs, losses, rows, classes);
        double[] eProbs = new double[logits.length];
        double[] eLosses = new double[rows];
        ReferenceCrossEntropy.crossEntropyForward(logits, targets, eProbs, eLosses, rows, classes);
        h.assertClose("cross-entropy probs", eProbs, probs, 1e-8, 1e-5);
        h.assertClose("cross-entropy losses", eLosses, losses, 1e-5, 1e-5);

        Buffer dLogits = backend.allocateFloats(logits.length);
        backend.crossEntropyBackward(h.upload(eProbs), h.upload(targets), dLogits, rows, classes, 0.1f);
        double[] edLogits = new double[logits.length];
        ReferenceCrossEntropy.crossEntropyBackward(toFloatPrecision(eProbs), targets, edLogits, rows, classes, 0.1f);
        h.assertClose("cross-entropy dLogits", edLogits, dLogits, 1e-8, 1e-6);
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void adamWOverSeveralSteps(Backend backend) {
        OpHarness h = new OpHarness(backend, SEED);
        int n = 20_021;
        double[] params = h.gaussian(n, 0.1);
        double[] m = new double[n];
        double[] v = new double[n];
        Buffer bp = h.upload(params);
        Buffer bm = h.upload(m);
        Buffer bv = h.upload(v);
        AdamW settings = new AdamW(3e-5f, 0.9f, 0.999f, 1e-8f, 0.01f);
        for (int step = 1; step <= 5; step++) {
            double[] grads = h.gaussian(n, 1e-2 * step);
            backend.adamW(bp, h.upload(grads), bm, bv, settings, step);
            ReferenceOptimizer.adamW(params, grads, m, v, settings.learningRate(), settings.beta1(),
                    settings.beta2(), settings.epsilon(), settings.weightDecay(), step);
        }
        h.assertClose("adamW params", params, bp, 1e-9, 1e-6);
        // m and v sum gradients of both signs, so an element can be much smaller than its terms
        h.assertClose("adamW m", m, bm, 1e-9, 1e-5);
        h.assertClose("adamW v", v, bv, 1e-11, 1e-5);
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void gradientNormAndClipping(Backend backend) {
        OpHarness h = new OpHarness(backend, SEED);
        double[] grads = h.gaussian(50_001, 0.05); // norm about 11
        Buffer bg = h.upload(grads);
        Buffer sum = backend.allocateFloats(1);
        backend.sumOfSquares(bg, sum);
        double expectedSum = ReferenceOptimizer.sumOfSquares(grads);
        h.assertClose("sumOfSquares", new double[] {expectedSum}, sum, 0, 1e-6);

        backend.clipByGlobalNorm(bg, sum, 1);
        double[] clipped = grads.clone();
        ReferenceOptimizer.clipByGlobalNorm(clipped, expectedSum, 1);
        h.assertClose("clipped", clipped, bg, 1e-9, 1e-6);

        backend.sumOfSquares(bg, sum);
        backend.clipByGlobalNorm(bg, sum, 100); // already below: untouched
        h.assertClose("below the maximum", clipped, bg, 1e-9, 1e-6);
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void wrongBuffersAreRejected(Backend backend) {
        Buffer floats = backend.allocateFloats(12);
        Buffer ints = backend.allocateInts(12);
        assertThrows(IllegalArgumentException.class, () -> backend.add(floats, ints, floats));
        assertThrows(IllegalArgumentException.class, () -> backend.addBias(floats, backend.allocateFloats(5), 3, 4));
        assertThrows(IndexOutOfBoundsException.class, () -> floats.slice(10, 3));
        assertThrows(IllegalArgumentException.class, () -> backend.dropout(floats, floats, 1, 0, 0));
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void indicesOutOfRangeAreRejectedBeforeAnyWrite(Backend backend) {
        OpHarness h = new OpHarness(backend, SEED);
        double[] table = h.gaussian(5 * 3, 1);
        Buffer bTable = h.upload(table);
        Buffer out = backend.allocateFloats(2 * 3);
        Buffer ids = backend.allocateInts(4);
        backend.copyIn(new int[] {1, 4, 5, 0}, ids); // 5 is outside a table of 5 rows
        assertThrows(IndexOutOfBoundsException.class, () -> backend.embeddingBackward(ids.slice(1, 2), out, bTable, 2, 3));
        h.assertClose("table untouched", table, bTable, 0, 0);
        backend.embeddingForward(ids.slice(0, 2), bTable, out, 2, 3, false); // the in-range part is fine
        Buffer targets = backend.allocateInts(2);
        backend.copyIn(new int[] {2, -1}, targets);
        Buffer probs = backend.allocateFloats(2 * 3);
        assertThrows(IndexOutOfBoundsException.class, () -> backend.crossEntropyForward(out, targets, probs,
                backend.allocateFloats(2), 2, 3));
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.kernels.TestBackends#all")
    void slicesAreViews(Backend backend) {
        Buffer whole = backend.allocateFloats(10);
        backend.fill(whole.slice(2, 3), 7);
        Buffer inner = whole.slice(1, 8).slice(1, 2);
        backend.fill(inner, 1);
        float[] values = new float[10];
        backend.copyOut(whole, values);
        assertArrayEquals(new float[] {0, 0, 1, 1, 7, 0, 0, 0, 0, 0}, values);

        // a fill large enough to be split over the threads covers its slice exactly
        Buffer large = backend.allocateFloats(70_000);
        backend.fill(large.slice(3, 60_000), 2);
        float[] filled = new float[70_000];
        backend.copyOut(large, filled);
        for (int i = 0; i < filled.length; i++) {
            assertEquals(i >= 3 && i < 60_003 ? 2f : 0f, filled[i], "element " + i);
        }
    }

    private static double[] abs(double[] values) {
        return Arrays.stream(values).map(Math::abs).toArray();
    }

    /** The values rounded to float: what a backend receives when the reference's output is uploaded. */
    private static double[] toFloatPrecision(double[] values) {
        return Arrays.stream(values).map(v -> (float) v).toArray();
    }

    private static double[] toDoubles(float[] values) {
        return IntStream.range(0, values.length).mapToDouble(i -> values[i]).toArray();
    }
}
