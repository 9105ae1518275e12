package dev.jbert.kernels.reference;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;

/**
 * Every backward in the reference against central finite differences of its forward, in double.
 *
 * <p>Each check builds a scalar loss {@code L = sum_i w_i * y_i} with random weights w, so that
 * {@code dL/dy = w}; runs the reference backward with {@code dy = w}; and compares every element
 * of each input's gradient with {@code (L(x + h) - L(x - h)) / 2h}. In double, with h = 1e-5, the
 * difference is good to about 1e-9, so the tolerance can be tight. The backends are then held to
 * these references by {@code BackendOpsTest}, which closes the loop: every backend's backward is
 * the true derivative of its forward.
 */
class GradientCheckTest {
    private static final double H = 1e-5;
    private static final double ATOL = 1e-8;
    private static final double RTOL = 1e-6;

    private final SplittableRandom random = new SplittableRandom(7);

    @Test
    void linearLayerThroughGemm() {
        // y [rows, out] = x [rows, in] W^T; dx = dy W; dW = dy^T x, the calls the model makes
        int rows = 4, in = 5, out = 3;
        double[] x = gaussian(rows * in);
        double[] w = gaussian(out * in);
        double[] dy = gaussian(rows * out);
        ToDoubleFunction<double[][]> loss = p -> {
            double[] y = new double[rows * out];
            ReferenceGemm.gemm(false, true, rows, out, in, 1, p[0], p[1], 0, y);
            return dot(dy, y);
        };
        double[] dx = new double[rows * in];
        ReferenceGemm.gemm(false, false, rows, in, out, 1, dy, w, 0, dx);
        double[] dw = new double[out * in];
        ReferenceGemm.gemm(true, false, out, in, rows, 1, dy, x, 0, dw);
        check("linear", loss, new double[][] {x, w}, new double[][] {dx, dw});
    }

    @Test
    void attentionProductsThroughBatchedGemm() {
        // per head: ctx [T, D] = P [T, T] V [T, D]; dP = dCtx V^T; dV = P^T dCtx
        int heads = 2, tokens = 3, dim = 4;
        double[] p = gaussian(heads * tokens * tokens);
        double[] v = gaussian(heads * tokens * dim);
        double[] dCtx = gaussian(heads * tokens * dim);
        ToDoubleFunction<double[][]> loss = args -> {
            double[] ctx = new double[heads * tokens * dim];
            ReferenceGemm.gemmBatched(false, false, tokens, dim, tokens, 1, args[0], args[1], 0, ctx, heads);
            return dot(dCtx, ctx);
        };
        double[] dP = new double[p.length];
        ReferenceGemm.gemmBatched(false, true, tokens, tokens, dim, 1, dCtx, v, 0, dP, heads);
        double[] dV = new double[v.length];
        ReferenceGemm.gemmBatched(true, false, tokens, dim, tokens, 1, p, dCtx, 0, dV, heads);
        check("attention P V", loss, new double[][] {p, v}, new double[][] {dP, dV});
    }

    @Test
    void bias() {
        int rows = 3, cols = 5;
        double[] x = gaussian(rows * cols);
        double[] bias = gaussian(cols);
        double[] dy = gaussian(rows * cols);
        ToDoubleFunction<double[][]> loss = p -> {
            double[] y = p[0].clone();
            ReferenceElementwise.addBias(y, p[1], rows, cols);
            return dot(dy, y);
        };
        double[] dBias = new double[cols];
        ReferenceElementwise.biasBackward(dy, dBias, rows, cols);
        check("bias", loss, new double[][] {x, bias}, new double[][] {dy, dBias});
    }

    @Test
    void gelu() {
        double[] x = gaussian(40);
        x[0] = 0;
        x[1] = -5.5;
        x[2] = 4.2;
        double[] dy = gaussian(x.length);
        ToDoubleFunction<double[][]> loss = p -> {
            double[] y = new double[x.length];
            ReferenceGelu.geluForward(p[0], y);
            return dot(dy, y);
        };
        double[] dx = new double[x.length];
        ReferenceGelu.geluBackward(x, dy, dx);
        check("gelu", loss, new double[][] {x}, new double[][] {dx});
    }

    @Test
    void layerNorm() {
        int rows = 3, cols = 7;
        double[] x = gaussian(rows * cols);
        double[] gamma = gaussian(cols);
        double[] beta = gaussian(cols);
        double[] dy = gaussian(rows * cols);
        double eps = 1e-12;
        ToDoubleFunction<double[][]> loss = p -> {
            double[] y = new double[rows * cols];
            ReferenceLayerNorm.layerNormForward(p[0], p[1], p[2], y, new double[rows], new double[rows], rows, cols, eps);
            return dot(dy, y);
        };
        double[] mean = new double[rows];
        double[] rstd = new double[rows];
        ReferenceLayerNorm.layerNormForward(x, gamma, beta, new double[rows * cols], mean, rstd, rows, cols, eps);
        double[] dx = new double[rows * cols];
        double[] dGamma = new double[cols];
        double[] dBeta = new double[cols];
        ReferenceLayerNorm.layerNormBackward(dy, x, gamma, mean, rstd, dx, dGamma, dBeta, rows, cols);
        check("layerNorm", loss, new double[][] {x, gamma, beta}, new double[][] {dx, dGamma, dBeta});
    }

    @Test
    void attentionSoftmaxWithMask() {
        int batch = 2, heads = 2, tokens = 4;
        int[] mask = {1, 1, 1, 0, 1, 0, 1, 1};
        double scale = 0.7;
        double[] scores = gaussian(batch * heads * tokens * tokens);
        double[] dProbs = gaussian(scores.length);
        ToDoubleFunction<double[][]> loss = p -> {
            double[] probs = new double[scores.length];
            ReferenceAttentionSoftmax.attentionSoftmaxForward(p[0], mask, probs, batch, heads, tokens, scale);
            return dot(dProbs, probs);
        };
        double[] probs = new double[scores.length];
        ReferenceAttentionSoftmax.attentionSoftmaxForward(scores, mask, probs, batch, heads, tokens, scale);
        double[] dScores = new double[scores.length];
        ReferenceAttentionSoftmax.attentionSoftmaxBackward(probs, dProbs, dScores, batch, heads, tokens, scale);
        check("attention softmax", loss, new double[][] {scores}, new double[][] {dScores});
    }

    @Test
    void embedding() {
        int vocab = 4, rows = 6, dim = 3;
        int[] ids = {2, 0, 2, 3, 2, 1}; // a repeated id: its gradients must add up
        double[] table = gaussian(vocab * dim);
        double[] dOut = gaussian(rows * dim);
        ToDoubleFunction<double[][]> loss = p -> {
            double[] out = new double[rows * dim];
            ReferenceEmbedding.embeddingForward(ids, p[0], out, rows, dim, false);
            return dot(dOut, out);
        };
        double[] dTable = new double[vocab * dim];
        ReferenceEmbedding.embeddingBackward(ids, dOut, dTable, rows, dim);
        check("embedding", loss, new double[][] {table}, new double[][] {dTable});
    }

    @Test
    void crossEntropy() {
        int rows = 3, classes = 6;
        int[] targets = {0, 5, 2};
        double[] logits = gaussian(rows * classes);
        double dLoss = 0.5; // the mean over 2 rows, say
        ToDoubleFunction<double[][]> loss = p -> {
            double[] losses = new double[rows];
            ReferenceCrossEntropy.crossEntropyForward(p[0], targets, new double[rows * classes], losses, rows, classes);
            return dLoss * Arrays.stream(losses).sum();
        };
        double[] probs = new double[rows * classes];
        ReferenceCrossEntropy.crossEntropyForward(logits, targets, probs, new double[rows], rows, classes);
        double[] dLogits = new double[rows * classes];
        ReferenceCrossEntropy.crossEntropyBackward(probs, targets, dLogits, rows, classes, dLoss);
        check("cross-entropy", loss, new double[][] {logits}, new double[][] {dLogits});
    }

    @Test
    void dropoutIsItsOwnBackward() {
        double[] x = gaussian(50);
        double[] dy = gaussian(x.length);
        ToDoubleFunction<double[][]> loss = p -> {
            double[] y = new double[x.length];
            ReferenceElementwise.dropout(p[0], y, 0.3, 11, 3);
            return dot(dy, y);
        };
        double[] dx = new double[x.length];
        ReferenceElementwise.dropout(dy, dx, 0.3, 11, 3);
        check("dropout", loss, new double[][] {x}, new double[][] {dx});
    }

    @Test
    void swapMiddleAxesIsUndoneBySwappingBack() {
        int d0 = 2, d1 = 3, d2 = 4, d3 = 2;
        double[] x = gaussian(d0 * d1 * d2 * d3);
        double[] dy = gaussian(x.length);
        ToDoubleFunction<double[][]> loss = p -> {
            double[] y = new double[x.length];
            ReferenceElementwise.swapMiddleAxes(p[0], y, d0, d1, d2, d3);
            return dot(dy, y);
        };
        double[] dx = new double[x.length];
        ReferenceElementwise.swapMiddleAxes(dy, dx, d0, d2, d1, d3);
        check("swapMiddleAxes", loss, new double[][] {x}, new double[][] {dx});
    }

    /** Compares each analytic gradient with central differences of {@code loss} in each input. */
    private static void check(String op, ToDoubleFunction<double[][]> loss, double[][] inputs, double[][] gradients) {
        for (int input = 0; input < inputs.length; input++) {
            double[] x = inputs[input];
            for (int i = 0; i < x.length; i++) {
                double saved = x[i];
                x[i] = saved + H;
                double plus = loss.applyAsDouble(inputs);
                x[i] = saved - H;
                double minus = loss.applyAsDouble(inputs);
                x[i] = saved;
                double numeric = (plus - minus) / (2 * H);
                double analytic = gradients[input][i];
                if (!(Math.abs(numeric - analytic) <= ATOL + RTOL * Math.abs(numeric))) {
                    fail(String.format("%s: gradient of input %d, element %d: analytic %.12g, finite difference %.12g",
                            op, input, i, analytic, numeric));
                }
            }
        }
    }

    private double[] gaussian(int n) {
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            values[i] = random.nextGaussian();
        }
        return values;
    }

    private static double dot(double[] a, double[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += a[i] * b[i];
        }
        return sum;
    }
}
