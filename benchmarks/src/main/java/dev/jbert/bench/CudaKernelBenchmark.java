package dev.jbert.bench;

import dev.jbert.kernels.AdamW;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import dev.jbert.kernels.MatrixLayout;
import dev.jbert.kernels.cuda.Cuda;
import dev.jbert.kernels.cuda.CudaBackend;
import dev.jbert.kernels.cuda.Precision;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The CUDA backend's kernels at bert-base training shapes (batch 32 x 384 tokens), on the GPU:
 * GEMMs in TFLOP/s for each precision, next to one large 8192^3 product (the card's practical
 * peak); memory-bound ops in GB/s, next to a device-to-device copy of the same size (the practical
 * bandwidth). A plain program, not JMH: the GPU runs asynchronously, so each timing is one
 * synchronized batch of repetitions, and the median of several such batches is reported.
 *
 * <p>GB/s counts the fewest bytes an op must move (each input read once, each output written
 * once). The memory-bound tensors are 4 x larger than a step's (over 150 MB) so that they do not
 * fit the 50-60 MB L2 cache. Run: {@code java -cp ... dev.jbert.bench.CudaKernelBenchmark}.
 */
public final class CudaKernelBenchmark {
    static final int TOKENS = 32 * 384, HIDDEN = 768, FFN = 3072, HEADS = 12, SEQUENCE = 384, HEAD_DIM = 64;
    static final int PARAMETERS = 109_483_778;
    private static final int SAMPLES = 7;

    /** One GEMM shape: {@code C [m, n] = op(A) op(B)}, {@code batch} times. */
    record Shape(String name, boolean transA, boolean transB, int m, int n, int k, int batch) {
        double flops() {
            return 2.0 * m * n * k * batch;
        }
    }

    static final Shape[] SHAPES = {
        new Shape("qkv fwd", false, true, TOKENS, 3 * HIDDEN, HIDDEN, 1),
        new Shape("qkv dX", false, false, TOKENS, HIDDEN, 3 * HIDDEN, 1),
        new Shape("qkv dW", true, false, 3 * HIDDEN, HIDDEN, TOKENS, 1),
        new Shape("attn-out fwd", false, true, TOKENS, HIDDEN, HIDDEN, 1),
        new Shape("ffn-up fwd", false, true, TOKENS, FFN, HIDDEN, 1),
        new Shape("ffn-down fwd", false, true, TOKENS, HIDDEN, FFN, 1),
        new Shape("ffn-down dW", true, false, HIDDEN, FFN, TOKENS, 1),
        new Shape("ffn-up dW", true, false, FFN, HIDDEN, TOKENS, 1),
        new Shape("scores QK^T", false, true, SEQUENCE, SEQUENCE, HEAD_DIM, 32 * HEADS),
        new Shape("context PV", false, false, SEQUENCE, HEAD_DIM, SEQUENCE, 32 * HEADS),
        new Shape("peak 8192^3", false, false, 8192, 8192, 8192, 1),
    };

    public static void main(String[] args) {
        Cuda.unavailableReason().ifPresent(reason -> {
            System.err.println("no CUDA device: " + reason);
            System.exit(2);
        });
        System.out.println("CUDA " + Cuda.versions());
        for (Precision precision : Precision.values()) {
            try (CudaBackend backend = new CudaBackend(precision)) {
                System.out.println();
                System.out.println("== GEMM, " + backend.name());
                System.out.printf("%-14s %8s %8s %8s %7s %10s %10s%n", "shape", "m", "n", "k", "batch", "ms", "TFLOP/s");
                for (Shape shape : SHAPES) {
                    gemm(backend, shape);
                }
                System.out.printf("%-14s %8s %8s %8s %10s %10s %10s%n", "linear bwd", "rows", "out", "in", "ms", "3 ops ms", "TFLOP/s");
                linearBackward(backend, "qkv", TOKENS, 3 * HIDDEN, HIDDEN);
                linearBackward(backend, "attn-out", TOKENS, HIDDEN, HIDDEN);
                linearBackward(backend, "ffn-up", TOKENS, FFN, HIDDEN);
                attention(backend);
            }
        }
        try (CudaBackend backend = new CudaBackend(Precision.BF16)) {
            memoryBound(backend);
        }
    }

    private static void gemm(Backend backend, Shape s) {
        Buffer a = random(backend, s.batch() * s.m() * s.k());
        Buffer b = random(backend, s.batch() * s.k() * s.n());
        Buffer c = backend.allocateFloats(s.batch() * s.m() * s.n());
        // batch 1 through gemm, as the Linear layers call it (bf16 mode treats the two differently)
        double seconds = s.batch() == 1
                ? time(backend, () -> backend.gemm(s.transA(), s.transB(), s.m(), s.n(), s.k(), 1, a, b, 0, c))
                : time(backend, () -> backend.gemmBatched(s.transA(), s.transB(), s.m(), s.n(), s.k(), 1, a, b, 0, c, s.batch()));
        System.out.printf("%-14s %8d %8d %8d %7d %10.3f %10.1f%n", s.name(), s.m(), s.n(), s.k(), s.batch(),
                seconds * 1e3, s.flops() / seconds / 1e12);
    }

    /**
     * A Linear layer's backward (dW, dBias and dx) as the one op the model calls, next to the three
     * ops it stands for (two GEMMs and biasBackward), which bf16 mode must round dy for twice.
     */
    private static void linearBackward(Backend backend, String name, int rows, int out, int in) {
        Buffer dy = random(backend, rows * out), x = random(backend, rows * in), w = random(backend, out * in);
        Buffer dw = random(backend, out * in), db = random(backend, out), dx = backend.allocateFloats(rows * in);
        double fused = time(backend, () -> backend.linearBackward(dy, x, w, dw, db, dx, false, rows, out, in));
        double threeOps = time(backend, () -> {
            backend.gemm(true, false, out, in, rows, 1, dy, x, 1, dw);
            backend.biasBackward(dy, db, rows, out);
            backend.gemm(false, false, rows, in, out, 1, dy, w, 0, dx);
        });
        System.out.printf("%-14s %8d %8d %8d %10.3f %10.3f %10.1f%n", name, rows, out, in, fused * 1e3, threeOps * 1e3,
                4.0 * rows * out * in / fused / 1e12);
    }

    /**
     * The fused attention ops at bert-base's shape, Q, K and V in place in the [B, T, 3, H, D]
     * projection as the model lays them out; TFLOP/s over their products alone (2 forward, 4 backward).
     */
    private static void attention(Backend backend) {
        int batch = 32, c = HIDDEN, square = batch * HEADS * SEQUENCE * SEQUENCE;
        Buffer qkv = random(backend, 3 * TOKENS * c), dQkv = backend.allocateFloats(3 * TOKENS * c);
        Buffer q = qkv.slice(0, qkv.length()), k = qkv.slice(c, qkv.length() - c), v = qkv.slice(2 * c, qkv.length() - 2 * c);
        MatrixLayout inQkv = new MatrixLayout(3 * c, HEADS, SEQUENCE * 3 * c, HEAD_DIM);
        MatrixLayout inContext = new MatrixLayout(c, HEADS, SEQUENCE * c, HEAD_DIM);
        Buffer mask = backend.allocateInts(batch * SEQUENCE);
        int[] ones = new int[batch * SEQUENCE];
        Arrays.fill(ones, 1);
        backend.copyIn(ones, mask);
        Buffer probs = backend.allocateFloats(square), dropped = backend.allocateFloats(square), dScores = backend.allocateFloats(square);
        Buffer context = backend.allocateFloats(TOKENS * c), dContext = random(backend, TOKENS * c);
        float scale = 0.125f;
        double product = 2.0 * SEQUENCE * SEQUENCE * HEAD_DIM * batch * HEADS;
        double evaluation = time(backend, () -> backend.attentionEvaluation(q, k, v, inQkv, mask, context, inContext, probs,
                batch, HEADS, SEQUENCE, HEAD_DIM, scale));
        double forward = time(backend, () -> backend.attentionTrainingForward(q, k, v, inQkv, mask, probs, dropped, context,
                inContext, batch, HEADS, SEQUENCE, HEAD_DIM, scale, 0.1f, 42, 7));
        double backward = time(backend, () -> backend.attentionTrainingBackward(q, k, v, inQkv, probs, context, dContext,
                inContext, dQkv.slice(0, dQkv.length()), dQkv.slice(c, dQkv.length() - c),
                dQkv.slice(2 * c, dQkv.length() - 2 * c), dScores, dropped, batch, HEADS, SEQUENCE, HEAD_DIM, scale, 0.1f,
                42, 7));
        System.out.printf("%-14s %8s %8s %8s %10s %10s %10s%n", "attention", "B x H", "T", "D", "ms", "", "TFLOP/s");
        String[] names = {"evaluation", "training fwd", "training bwd"};
        double[] seconds = {evaluation, forward, backward};
        int[] products = {2, 2, 4};
        for (int op = 0; op < names.length; op++) {
            System.out.printf("%-14s %8d %8d %8d %10.3f %10s %10.1f%n", names[op], batch * HEADS, SEQUENCE, HEAD_DIM,
                    seconds[op] * 1e3, "", products[op] * product / seconds[op] / 1e12);
        }
    }

    private static void memoryBound(Backend backend) {
        int rows = 4 * TOKENS;
        int hidden = rows * HIDDEN;
        int ffn = TOKENS * FFN;                 // 151 MB already
        int scores = 32 * HEADS * SEQUENCE * SEQUENCE; // 226 MB
        System.out.println();
        System.out.println("== memory-bound ops, " + backend.name() + " (GB/s over the fewest bytes; copy = same-size device copy)");
        System.out.printf("%-28s %12s %10s %10s %10s %8s%n", "op", "elements", "MB moved", "ms", "GB/s", "of copy");
        Buffer x = random(backend, hidden);
        Buffer y = backend.allocateFloats(hidden);
        Buffer dy = random(backend, hidden);
        Buffer gamma = random(backend, HIDDEN);
        Buffer beta = random(backend, HIDDEN);
        Buffer mean = backend.allocateFloats(rows);
        Buffer rstd = backend.allocateFloats(rows);
        Buffer dGamma = backend.allocateFloats(HIDDEN);
        Buffer dBeta = backend.allocateFloats(HIDDEN);
        double copyHidden = report(backend, "copy (hidden)", hidden, 8, 0, () -> backend.copy(x, y));
        report(backend, "layerNorm forward", hidden, 8, copyHidden,
                () -> backend.layerNormForward(x, gamma, beta, y, mean, rstd, rows, HIDDEN, 1e-12f));
        report(backend, "layerNorm backward", hidden, 12, copyHidden,
                () -> backend.layerNormBackward(dy, x, gamma, mean, rstd, y, dGamma, dBeta, rows, HIDDEN));
        report(backend, "add (residual)", hidden, 12, copyHidden, () -> backend.add(x, dy, y));
        report(backend, "dropout", hidden, 8, copyHidden, () -> backend.dropout(x, y, 0.1f, 42, 7));
        Buffer u = random(backend, ffn);
        Buffer v = backend.allocateFloats(ffn);
        Buffer du = random(backend, ffn);
        double copyFfn = report(backend, "copy (ffn)", ffn, 8, 0, () -> backend.copy(u, v));
        report(backend, "gelu forward", ffn, 8, copyFfn, () -> backend.geluForward(u, v));
        report(backend, "gelu backward", ffn, 12, copyFfn, () -> backend.geluBackward(u, du, v));
        Buffer w = backend.allocateFloats(ffn);
        report(backend, "gelu forward+backward", ffn, 16, copyFfn, () -> backend.geluForwardAndBackward(u, w, du, v));
        Buffer ffnBias = random(backend, FFN);
        report(backend, "addBias", ffn, 8, copyFfn, () -> backend.addBias(v, ffnBias, TOKENS, FFN));
        report(backend, "biasBackward", ffn, 4, copyFfn, () -> backend.biasBackward(du, ffnBias, TOKENS, FFN));
        Buffer qkv = random(backend, 3 * TOKENS * HIDDEN);
        Buffer heads = backend.allocateFloats(3 * TOKENS * HIDDEN);
        double copyQkv = report(backend, "copy (qkv)", 3L * TOKENS * HIDDEN, 8, 0, () -> backend.copy(qkv, heads));
        report(backend, "swapMiddleAxes [N, 3, C]", 3L * TOKENS * HIDDEN, 8, copyQkv,
                () -> backend.swapMiddleAxes(qkv, heads, 1, TOKENS, 3, HIDDEN));
        report(backend, "swapMiddleAxes [3B, T, H, D]", 3L * TOKENS * HIDDEN, 8, copyQkv,
                () -> backend.swapMiddleAxes(qkv, heads, 3 * 32, SEQUENCE, HEADS, HEAD_DIM));
        report(backend, "swapMiddleAxes [3, N, C]", 3L * TOKENS * HIDDEN, 8, copyQkv,
                () -> backend.swapMiddleAxes(qkv, heads, 1, 3, TOKENS, HIDDEN));
        report(backend, "swapMiddleAxes [3B, H, T, D]", 3L * TOKENS * HIDDEN, 8, copyQkv,
                () -> backend.swapMiddleAxes(qkv, heads, 3 * 32, HEADS, SEQUENCE, HEAD_DIM));
        Buffer s = random(backend, scores);
        Buffer p = backend.allocateFloats(scores);
        Buffer mask = backend.allocateInts(32 * SEQUENCE);
        int[] ones = new int[32 * SEQUENCE];
        Arrays.fill(ones, 1);
        backend.copyIn(ones, mask);
        double copyScores = report(backend, "copy (scores)", scores, 8, 0, () -> backend.copy(s, p));
        report(backend, "attention softmax forward", scores, 8, copyScores,
                () -> backend.attentionSoftmaxForward(s, mask, p, 32, HEADS, SEQUENCE, 0.125f));
        Buffer sd = backend.allocateFloats(scores);
        report(backend, "attention softmax+dropout fwd", scores, 12, copyScores,
                () -> backend.attentionSoftmaxDropoutForward(s, mask, p, sd, 32, HEADS, SEQUENCE, 0.125f, 0.1f, 42, 7));
        report(backend, "attention softmax backward", scores, 12, copyScores,
                () -> backend.attentionSoftmaxBackward(p, s, s, 32, HEADS, SEQUENCE, 0.125f));
        Buffer dropped = backend.allocateFloats(scores);
        report(backend, "attention dropout+softmax bwd", scores, 16, copyScores,
                () -> backend.attentionDropoutSoftmaxBackward(p, s, dropped, s, 32, HEADS, SEQUENCE, 0.125f, 0.1f, 42, 7));
        Buffer params = random(backend, PARAMETERS);
        Buffer grads = random(backend, PARAMETERS);
        Buffer m = backend.allocateFloats(PARAMETERS);
        Buffer v2 = backend.allocateFloats(PARAMETERS);
        AdamW settings = new AdamW(3e-5f, 0.9f, 0.999f, 1e-8f, 0.01f);
        double copyParams = report(backend, "copy (parameters)", PARAMETERS, 8, 0, () -> backend.copy(params, m));
        report(backend, "adamW", PARAMETERS, 28, copyParams, () -> backend.adamW(params, grads, m, v2, settings, 1));
        Buffer norm = backend.allocateFloats(1);
        report(backend, "sumOfSquares", PARAMETERS, 4, copyParams, () -> backend.sumOfSquares(grads, norm));
    }

    /** Prints one row; returns the op's GB/s. */
    private static double report(Backend backend, String name, long elements, int bytesPerElement, double copyGbPerS,
                                 Runnable op) {
        double seconds = time(backend, op);
        double bytes = (double) elements * bytesPerElement;
        double gbPerS = bytes / seconds / 1e9;
        System.out.printf("%-28s %12d %10.1f %10.3f %10.0f %8s%n", name, elements, bytes / 1e6, seconds * 1e3, gbPerS,
                copyGbPerS > 0 ? String.format("%.0f%%", 100 * gbPerS / copyGbPerS) : "");
        return gbPerS;
    }

    /** Seconds per run of {@code op}: the median over SAMPLES synchronized batches, after a warm-up batch. */
    private static double time(Backend backend, Runnable op) {
        long start = System.nanoTime();
        op.run();
        backend.synchronize();
        double once = (System.nanoTime() - start) / 1e9;
        int reps = (int) Math.max(3, Math.min(200, 0.05 / Math.max(once, 1e-6))); // about 50 ms a batch
        double[] samples = new double[SAMPLES];
        for (int sample = -1; sample < SAMPLES; sample++) {
            long begin = System.nanoTime();
            for (int r = 0; r < reps; r++) {
                op.run();
            }
            backend.synchronize();
            if (sample >= 0) {
                samples[sample] = (System.nanoTime() - begin) / 1e9 / reps;
            }
        }
        Arrays.sort(samples);
        return samples[SAMPLES / 2];
    }

    /** Uniform values in [-1, 1) (never zeros: they can run faster than real data). */
    private static Buffer random(Backend backend, int length) {
        SplittableRandom random = new SplittableRandom(length);
        float[] values = new float[length];
        for (int i = 0; i < length; i++) {
            values[i] = (float) (random.nextDouble() * 2 - 1);
        }
        Buffer buffer = backend.allocateFloats(length);
        backend.copyIn(values, buffer);
        return buffer;
    }
}
