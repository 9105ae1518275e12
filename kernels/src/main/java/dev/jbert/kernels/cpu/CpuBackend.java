package dev.jbert.kernels.cpu;

import dev.jbert.kernels.AdamW;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import dev.jbert.kernels.ArgumentChecks;
import dev.jbert.kernels.MatrixLayout;
import dev.jbert.kernels.Philox;
import java.util.Arrays;

/**
 * The pure-Java backend: buffers are Java arrays, ops are Vector API kernels spread over the
 * cores with {@link Parallel}. Ops run before the call returns, which is one valid way to run an
 * in-order queue.
 *
 * <p>This class checks arguments and dispatches; the numerics live in the kernel classes of this
 * package, one per family (GEMM, elementwise, GELU, dropout, LayerNorm, softmaxes, embeddings, optimizer).
 *
 * <p>Settings: {@code -Djbert.threads=N} (default: one per core) and {@code -Djbert.simd=false}
 * (scalar loops instead of vectors, same kernels otherwise).
 */
public final class CpuBackend implements Backend {
    private final Parallel parallel;
    /**
     * Per thread: the fused attention ops' [T, T] blocks of one (sequence, head), one or two of them
     * (590 KB each at 384 tokens, kept in L2), grown as needed; see {@link #attentionBlocks}.
     */
    private final ThreadLocal<float[]> attentionBlocks = ThreadLocal.withInitial(() -> new float[0]);
    private final Simd simd;
    private final Gemm gemm;
    private final ElementwiseKernels elementwise;
    private final GeluKernels gelu;
    private final DropoutKernel dropout;
    private final LayerNormKernels layerNorm;
    private final SoftmaxKernels softmax;
    private final EmbeddingKernels embedding;
    private final OptimizerKernels optimizer;

    /** A backend with the thread count and SIMD switch from the system properties. */
    public CpuBackend() {
        this(Parallel.defaultThreads(), !"false".equalsIgnoreCase(System.getProperty("jbert.simd")));
    }

    public CpuBackend(int threads, boolean simdEnabled) {
        this.parallel = new Parallel(threads);
        this.simd = new Simd(simdEnabled);
        this.gemm = new Gemm(parallel, simdEnabled);
        this.elementwise = new ElementwiseKernels(parallel, simd);
        this.gelu = new GeluKernels(parallel, simd);
        this.dropout = new DropoutKernel(parallel, simd);
        this.layerNorm = new LayerNormKernels(parallel, simd);
        this.softmax = new SoftmaxKernels(parallel, simd);
        this.embedding = new EmbeddingKernels(parallel, simd);
        this.optimizer = new OptimizerKernels(parallel, simd);
    }

    @Override
    public String name() {
        String vectors = simd.enabled() ? Simd.FLOATS.vectorBitSize() + "-bit vectors" : "scalar";
        return "cpu (" + vectors + ", " + parallel.threads() + " threads)";
    }

    @Override
    public long memoryCapacity() {
        return Runtime.getRuntime().maxMemory();
    }

    /** The threads the ops run on, the caller's included. */
    public int threads() {
        return parallel.threads();
    }

    // ---- memory --------------------------------------------------------------------------------

    @Override
    public Buffer allocateFloats(int length) {
        return CpuBuffer.ofFloats(checkLength(length));
    }

    @Override
    public Buffer allocateInts(int length) {
        return CpuBuffer.ofInts(checkLength(length));
    }

    @Override
    public void copyIn(float[] source, Buffer target) {
        CpuBuffer t = floats(target, source.length, "target");
        System.arraycopy(source, 0, t.floats, t.offset, source.length);
    }

    @Override
    public void copyIn(int[] source, Buffer target) {
        CpuBuffer t = ints(target, source.length, "target");
        System.arraycopy(source, 0, t.ints, t.offset, source.length);
    }

    @Override
    public void copyOut(Buffer source, float[] target) {
        CpuBuffer s = floats(source, target.length, "source");
        System.arraycopy(s.floats, s.offset, target, 0, target.length);
    }

    @Override
    public void copyOut(Buffer source, int[] target) {
        CpuBuffer s = ints(source, target.length, "source");
        System.arraycopy(s.ints, s.offset, target, 0, target.length);
    }

    @Override
    public void copy(Buffer source, Buffer target) {
        CpuBuffer s = floats(source, -1, "source");
        CpuBuffer t = floats(target, s.length(), "target");
        System.arraycopy(s.floats, s.offset, t.floats, t.offset, s.length());
    }

    @Override
    public void fill(Buffer target, float value) {
        CpuBuffer t = floats(target, -1, "target");
        // split over the threads: zeroing a step's gradients (440 MB for bert-base) took 0.044 s on one
        parallel.parallelForRanges(t.length(), ElementwiseKernels.GRAIN,
                (first, last) -> Arrays.fill(t.floats, t.offset + first, t.offset + last, value));
    }

    @Override
    public void synchronize() {
        // every op has already finished when it returns
    }

    @Override
    public void close() {
        parallel.close();
    }

    // ---- ops -----------------------------------------------------------------------------------

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k,
                     float alpha, Buffer a, Buffer b, float beta, Buffer c) {
        CpuBuffer ca = floats(a, m * k, "a");
        CpuBuffer cb = floats(b, k * n, "b");
        CpuBuffer cc = floats(c, m * n, "c");
        gemm.gemm(transA, transB, m, n, k, alpha, ca.floats, ca.offset, cb.floats, cb.offset, beta, cc.floats, cc.offset);
    }

    /** The GEMM with the bias added to each tile of y as it is finished (see {@link Gemm#gemmPlusBias}). */
    @Override
    public void linearForward(Buffer x, Buffer weight, Buffer bias, Buffer y, int rows, int out, int in) {
        CpuBuffer cx = floats(x, rows * in, "x");
        CpuBuffer cw = floats(weight, out * in, "weight");
        CpuBuffer cb = floats(bias, out, "bias");
        CpuBuffer cy = floats(y, rows * out, "y");
        gemm.gemmPlusBias(false, true, rows, out, in, cx.floats, cx.offset, cw.floats, cw.offset, cb.floats, cb.offset,
                cy.floats, cy.offset);
    }

    @Override
    public void gemmBatched(boolean transA, boolean transB, int m, int n, int k, float alpha,
                            Buffer a, MatrixLayout aLayout, Buffer b, MatrixLayout bLayout,
                            float beta, Buffer c, MatrixLayout cLayout, int batch) {
        ArgumentChecks.batchedGemm(transA, transB, m, n, k, a, aLayout, b, bLayout, c, cLayout, batch);
        CpuBuffer ca = floats(a, -1, "a");
        CpuBuffer cb = floats(b, -1, "b");
        CpuBuffer cc = floats(c, -1, "c");
        gemm.gemmBatched(transA, transB, m, n, k, alpha, ca.floats, ca.offset, aLayout, cb.floats, cb.offset, bLayout,
                beta, cc.floats, cc.offset, cLayout, batch);
    }

    @Override
    public void addBias(Buffer x, Buffer bias, int rows, int cols) {
        elementwise.addBias(floats(x, rows * cols, "x"), floats(bias, cols, "bias"), rows, cols);
    }

    @Override
    public void biasBackward(Buffer dy, Buffer dBias, int rows, int cols) {
        elementwise.biasBackward(floats(dy, rows * cols, "dy"), floats(dBias, cols, "dBias"), rows, cols);
    }

    @Override
    public void add(Buffer a, Buffer b, Buffer out) {
        CpuBuffer co = floats(out, -1, "out");
        elementwise.add(floats(a, co.length(), "a"), floats(b, co.length(), "b"), co);
    }

    @Override
    public void subtract(Buffer a, Buffer b, Buffer out) {
        CpuBuffer co = floats(out, -1, "out");
        elementwise.subtract(floats(a, co.length(), "a"), floats(b, co.length(), "b"), co);
    }

    @Override
    public void swapMiddleAxes(Buffer x, Buffer y, int d0, int d1, int d2, int d3) {
        int length = d0 * d1 * d2 * d3;
        elementwise.swapMiddleAxes(floats(x, length, "x"), floats(y, length, "y"), d0, d1, d2, d3);
    }

    @Override
    public void geluForward(Buffer x, Buffer y) {
        CpuBuffer cx = floats(x, -1, "x");
        gelu.forward(cx, floats(y, cx.length(), "y"));
    }

    @Override
    public void geluBackward(Buffer x, Buffer dy, Buffer dx) {
        CpuBuffer cx = floats(x, -1, "x");
        gelu.backward(cx, floats(dy, cx.length(), "dy"), floats(dx, cx.length(), "dx"), null);
    }

    /** One pass (see {@link Backend#geluForwardAndBackward}). */
    @Override
    public void geluForwardAndBackward(Buffer x, Buffer y, Buffer dy, Buffer dx) {
        CpuBuffer cx = floats(x, -1, "x");
        gelu.backward(cx, floats(dy, cx.length(), "dy"), floats(dx, cx.length(), "dx"), floats(y, cx.length(), "y"));
    }

    @Override
    public void dropout(Buffer x, Buffer y, float p, long seed, long stream) {
        Philox.checkProbability(p);
        CpuBuffer cx = floats(x, -1, "x");
        dropout.dropout(cx, floats(y, cx.length(), "y"), p, seed, stream);
    }

    @Override
    public void layerNormForward(Buffer x, Buffer gamma, Buffer beta, Buffer y, Buffer mean,
                                 Buffer rstd, int rows, int cols, float eps) {
        layerNorm.forward(floats(x, rows * cols, "x"), floats(gamma, cols, "gamma"),
                floats(beta, cols, "beta"), floats(y, rows * cols, "y"), floats(mean, rows, "mean"),
                floats(rstd, rows, "rstd"), rows, cols, eps);
    }

    @Override
    public void layerNormBackward(Buffer dy, Buffer x, Buffer gamma, Buffer mean, Buffer rstd,
                                  Buffer dx, Buffer dGamma, Buffer dBeta, int rows, int cols) {
        layerNorm.backward(floats(dy, rows * cols, "dy"), floats(x, rows * cols, "x"),
                floats(gamma, cols, "gamma"), floats(mean, rows, "mean"), floats(rstd, rows, "rstd"),
                floats(dx, rows * cols, "dx"), floats(dGamma, cols, "dGamma"),
                floats(dBeta, cols, "dBeta"), rows, cols);
    }

    @Override
    public void attentionSoftmaxForward(Buffer scores, Buffer mask, Buffer probs, int batch,
                                        int heads, int tokens, float scale) {
        int length = batch * heads * tokens * tokens;
        softmax.attentionForward(floats(scores, length, "scores"), ints(mask, batch * tokens, "mask"),
                floats(probs, length, "probs"), batch, heads, tokens, scale);
    }

    /**
     * One (sequence, head) per task: its scores go into the thread's own [T, T] block (590 KB at 384
     * tokens, in L2), the softmax runs there, and P V reads them back from there; the [B, H, T, T]
     * tensor is never written, and {@code scores} is left alone.
     */
    @Override
    public void attentionEvaluation(Buffer q, Buffer k, Buffer v, MatrixLayout heads, Buffer mask, Buffer context,
                                    MatrixLayout contextHeads, Buffer scores, int batch, int headCount, int tokens,
                                    int headDim, float scale) {
        int matrices = batch * headCount;
        MatrixLayout dense = MatrixLayout.dense(tokens, tokens);
        ArgumentChecks.batchedGemm(false, true, tokens, tokens, headDim, q, heads, k, heads, scores, dense, matrices);
        ArgumentChecks.batchedGemm(false, false, tokens, headDim, tokens, scores, dense, v, heads, context, contextHeads,
                matrices);
        CpuBuffer cq = floats(q, -1, "q"), ck = floats(k, -1, "k"), cv = floats(v, -1, "v");
        CpuBuffer cm = ints(mask, batch * tokens, "mask"), cc = floats(context, -1, "context");
        parallel.parallelFor(matrices, z -> {
            float[] block = attentionBlocks(tokens * tokens);
            headProbabilities(cq, ck, heads, cm, z, headCount, tokens, headDim, scale, block, 0);
            headContext(block, 0, cv, heads, cc, contextHeads, z, tokens, headDim);
        });
    }

    /**
     * One (sequence, head) per task: its scores go straight into its [T, T] of {@code probs}, the
     * softmax runs there while they are in cache, their dropout goes into the thread's own block,
     * and P V reads them from there; {@code probsDropped} is left alone. The same GEMM and softmax
     * code as the three ops, so the same numbers, bit for bit.
     */
    @Override
    public void attentionTrainingForward(Buffer q, Buffer k, Buffer v, MatrixLayout heads, Buffer mask, Buffer probs,
                                         Buffer probsDropped, Buffer context, MatrixLayout contextHeads,
                                         int batch, int headCount, int tokens, int headDim, float scale,
                                         float p, long seed, long stream) {
        Philox.checkProbability(p);
        int matrices = batch * headCount, square = tokens * tokens;
        MatrixLayout dense = MatrixLayout.dense(tokens, tokens);
        ArgumentChecks.batchedGemm(false, true, tokens, tokens, headDim, q, heads, k, heads, probs, dense, matrices);
        ArgumentChecks.batchedGemm(false, false, tokens, headDim, tokens, probs, dense, v, heads, context, contextHeads,
                matrices);
        CpuBuffer cq = floats(q, -1, "q"), ck = floats(k, -1, "k"), cv = floats(v, -1, "v");
        CpuBuffer cm = ints(mask, batch * tokens, "mask"), cp = floats(probs, -1, "probs"), cc = floats(context, -1, "context");
        parallel.parallelFor(matrices, z -> {
            float[] dropped = attentionBlocks(square);
            int first = z * square;  // the head's probabilities: elements [first, +square) of probs
            headProbabilities(cq, ck, heads, cm, z, headCount, tokens, headDim, scale, cp.floats, cp.offset + first);
            dropout.range(cp.floats, cp.offset, dropped, -first, first, first + square, p, seed, stream);
            headContext(dropped, 0, cv, heads, cc, contextHeads, z, tokens, headDim);
        });
    }

    /**
     * One (sequence, head) per task, its two [T, T] blocks in the thread's own buffer, in cache: the
     * gradient of the dropped probabilities (dContext Vᵀ, then the scores' gradient, in place) and
     * the dropped probabilities, drawn again; dV, dQ and dK read them from there. {@code dScores}
     * and {@code probsDropped} are left alone. The same code as the five ops, so the same numbers,
     * bit for bit.
     */
    @Override
    public void attentionTrainingBackward(Buffer q, Buffer k, Buffer v, MatrixLayout heads, Buffer probs,
                                          Buffer context, Buffer dContext, MatrixLayout contextHeads, Buffer dq,
                                          Buffer dk, Buffer dv, Buffer dScores, Buffer probsDropped, int batch,
                                          int headCount, int tokens, int headDim, float scale, float p, long seed,
                                          long stream) {
        Philox.checkProbability(p);
        int matrices = batch * headCount, square = tokens * tokens;
        MatrixLayout dense = MatrixLayout.dense(tokens, tokens);
        // the five products' operands, [T, T] blocks as probs lies
        ArgumentChecks.batchedGemm(false, true, tokens, tokens, headDim, dContext, contextHeads, v, heads, probs, dense,
                matrices);
        ArgumentChecks.batchedGemm(true, false, tokens, headDim, tokens, probs, dense, dContext, contextHeads, dv, heads,
                matrices);
        ArgumentChecks.batchedGemm(false, false, tokens, headDim, tokens, probs, dense, k, heads, dq, heads, matrices);
        ArgumentChecks.batchedGemm(true, false, tokens, headDim, tokens, probs, dense, q, heads, dk, heads, matrices);
        CpuBuffer cq = floats(q, -1, "q"), ck = floats(k, -1, "k"), cv = floats(v, -1, "v"), cp = floats(probs, -1, "probs");
        CpuBuffer cdc = floats(dContext, -1, "dContext");
        CpuBuffer cdq = floats(dq, -1, "dq"), cdk = floats(dk, -1, "dk"), cdv = floats(dv, -1, "dv");
        parallel.parallelFor(matrices, z -> {
            float[] blocks = attentionBlocks(2 * square);  // [0, square): dScores; [square, 2 square): dropped
            int at = cp.offset + z * square, first = z * square;
            int qkv = (int) heads.start(z), ctx = cdc.offset + (int) contextHeads.start(z);
            gemm.gemmOnThisThread(false, true, tokens, tokens, headDim, 1, cdc.floats, ctx, contextHeads.rowStride(),
                    cv.floats, cv.offset + qkv, heads.rowStride(), 0, blocks, 0, tokens);
            dropout.range(cp.floats, cp.offset, blocks, square - first, first, first + square, p, seed, stream);
            float[] lanes = Simd.lanes();
            for (int row = 0; row < tokens; row++) {
                softmax.attentionBackwardRow(cp.floats, at + row * tokens, blocks, square + row * tokens,
                        blocks, row * tokens, blocks, row * tokens, tokens, scale, lanes);
            }
            gemm.gemmOnThisThread(true, false, tokens, headDim, tokens, 1, blocks, square, tokens, cdc.floats, ctx,
                    contextHeads.rowStride(), 0, cdv.floats, cdv.offset + qkv, heads.rowStride());
            gemm.gemmOnThisThread(false, false, tokens, headDim, tokens, 1, blocks, 0, tokens, ck.floats, ck.offset + qkv,
                    heads.rowStride(), 0, cdq.floats, cdq.offset + qkv, heads.rowStride());
            gemm.gemmOnThisThread(true, false, tokens, headDim, tokens, 1, blocks, 0, tokens, cq.floats, cq.offset + qkv,
                    heads.rowStride(), 0, cdk.floats, cdk.offset + qkv, heads.rowStride());
        });
    }

    /**
     * Head z's probabilities, softmax(scale Q Kᵀ) over its sequence's real keys, into the [T, T] at
     * {@code out[at]} (rows T apart), on the calling thread: the scores' GEMM, then the softmax in
     * place, row by row, while they are in cache.
     */
    private void headProbabilities(CpuBuffer cq, CpuBuffer ck, MatrixLayout heads, CpuBuffer cm, int z, int headCount,
                                   int tokens, int headDim, float scale, float[] out, int at) {
        gemm.gemmOnThisThread(false, true, tokens, tokens, headDim, 1, cq.floats, cq.offset + (int) heads.start(z),
                heads.rowStride(), ck.floats, ck.offset + (int) heads.start(z), heads.rowStride(), 0, out, at, tokens);
        float[] lanes = Simd.lanes();
        int maskRow = cm.offset + z / headCount * tokens;
        for (int row = 0; row < tokens; row++) {
            softmax.attentionRow(out, at + row * tokens, cm.ints, maskRow, out, at + row * tokens, tokens, scale, lanes);
        }
    }

    /** Head z's context = P V, P the [T, T] at {@code p[at]}, into its place in {@code cc}, on the calling thread. */
    private void headContext(float[] p, int at, CpuBuffer cv, MatrixLayout heads, CpuBuffer cc, MatrixLayout contextHeads,
                             int z, int tokens, int headDim) {
        gemm.gemmOnThisThread(false, false, tokens, headDim, tokens, 1, p, at, tokens, cv.floats,
                cv.offset + (int) heads.start(z), heads.rowStride(), 0, cc.floats,
                cc.offset + (int) contextHeads.start(z), contextHeads.rowStride());
    }

    /** The calling thread's attention blocks, at least {@code floats} long. */
    private float[] attentionBlocks(int floats) {
        float[] blocks = attentionBlocks.get();
        if (blocks.length < floats) {
            blocks = new float[floats];
            attentionBlocks.set(blocks);
        }
        return blocks;
    }

    /** Fused, a block of rows at a time: the block's dropout reads probabilities still in cache. */
    @Override
    public void attentionSoftmaxDropoutForward(Buffer scores, Buffer mask, Buffer probs, Buffer probsDropped,
                                               int batch, int heads, int tokens, float scale,
                                               float p, long seed, long stream) {
        Philox.checkProbability(p);
        int length = batch * heads * tokens * tokens;
        CpuBuffer cs = floats(scores, length, "scores"), cm = ints(mask, batch * tokens, "mask");
        CpuBuffer cp = floats(probs, length, "probs"), cpd = floats(probsDropped, length, "probsDropped");
        inRowBlocks(batch * heads * tokens, (first, last) -> {
            softmax.attentionForwardRows(cs, cm, cp, heads, tokens, scale, first, last);
            dropout.range(cp, cpd, first * tokens, last * tokens, p, seed, stream);
        });
    }

    /**
     * The attention rows [0, rows) in blocks of {@link SoftmaxKernels#ROWS_PER_TASK}, in parallel:
     * the fused softmax-and-dropout ops' tasks. A block starts at a multiple of 64 rows, so at a
     * multiple of 64 tokens: each starts a Philox tile, so no tile is drawn by two tasks.
     */
    private void inRowBlocks(int rows, Parallel.RangeBody body) {
        parallel.parallelForRanges(rows, SoftmaxKernels.ROWS_PER_TASK, body);
    }

    @Override
    public void attentionSoftmaxBackward(Buffer probs, Buffer dProbs, Buffer dScores, int batch,
                                         int heads, int tokens, float scale) {
        int length = batch * heads * tokens * tokens;
        CpuBuffer p = floats(probs, length, "probs");
        softmax.attentionBackward(p, p, floats(dProbs, length, "dProbs"), floats(dScores, length, "dScores"),
                batch, heads, tokens, scale);
    }

    /**
     * Fused, a block of rows at a time: the block's mask is drawn into probsDropped, and the
     * softmax backward reads it back while it is still in cache (see
     * {@link Backend#attentionDropoutSoftmaxBackward}).
     */
    @Override
    public void attentionDropoutSoftmaxBackward(Buffer probs, Buffer dDropped, Buffer probsDropped, Buffer dScores,
                                                int batch, int heads, int tokens, float scale,
                                                float p, long seed, long stream) {
        Philox.checkProbability(p);
        int length = batch * heads * tokens * tokens;
        CpuBuffer cp = floats(probs, length, "probs"), cd = floats(dDropped, length, "dDropped");
        CpuBuffer cpd = floats(probsDropped, length, "probsDropped"), cs = floats(dScores, length, "dScores");
        inRowBlocks(batch * heads * tokens, (first, last) -> {
            dropout.range(cp, cpd, first * tokens, last * tokens, p, seed, stream);
            softmax.attentionBackwardRows(cp, cpd, cd, cs, tokens, scale, first, last);
        });
    }

    @Override
    public void embeddingForward(Buffer ids, Buffer table, Buffer out, int rows, int dim,
                                 boolean accumulate) {
        CpuBuffer ct = floats(table, -1, "table");
        checkMultiple(ct.length(), dim, "table");
        embedding.forward(checkIds(ids, rows, ct.length() / dim), ct, floats(out, rows * dim, "out"), rows, dim, accumulate);
    }

    @Override
    public void embeddingBackward(Buffer ids, Buffer dOut, Buffer dTable, int rows, int dim) {
        CpuBuffer ct = floats(dTable, -1, "dTable");
        checkMultiple(ct.length(), dim, "dTable");
        CpuBuffer ci = checkIds(ids, rows, ct.length() / dim);
        embedding.backward(ci, floats(dOut, rows * dim, "dOut"), ct, rows, dim);
    }

    @Override
    public void crossEntropyForward(Buffer logits, Buffer targets, Buffer probs, Buffer losses,
                                    int rows, int classes) {
        CpuBuffer ct = checkTargets(targets, rows, classes);
        softmax.crossEntropyForward(floats(logits, rows * classes, "logits"), ct,
                floats(probs, rows * classes, "probs"), floats(losses, rows, "losses"), rows, classes);
    }

    @Override
    public void crossEntropyBackward(Buffer probs, Buffer targets, Buffer dLogits, int rows,
                                     int classes, float dLoss) {
        CpuBuffer ct = checkTargets(targets, rows, classes);
        softmax.crossEntropyBackward(floats(probs, rows * classes, "probs"), ct,
                floats(dLogits, rows * classes, "dLogits"), rows, classes, dLoss);
    }

    @Override
    public void adamW(Buffer params, Buffer grads, Buffer m, Buffer v, AdamW settings, int step) {
        checkPositive(step, "step");
        CpuBuffer cp = floats(params, -1, "params");
        optimizer.adamW(cp, floats(grads, cp.length(), "grads"), floats(m, cp.length(), "m"),
                floats(v, cp.length(), "v"), settings, step);
    }

    @Override
    public void sumOfSquares(Buffer x, Buffer result) {
        optimizer.sumOfSquares(floats(x, -1, "x"), floats(result, 1, "result"));
    }

    @Override
    public void clipByGlobalNorm(Buffer x, Buffer sumOfSquares, float maxNorm) {
        optimizer.clipByGlobalNorm(floats(x, -1, "x"), floats(sumOfSquares, 1, "sumOfSquares"), maxNorm);
    }

    // ---- argument checks: a wrong buffer is a programming error, named precisely ---------------

    /** This backend's float buffer, of {@code length} elements (any length when negative). */
    private static CpuBuffer floats(Buffer buffer, int length, String name) {
        return check(buffer, Buffer.Type.FLOAT32, length, name);
    }

    private static CpuBuffer ints(Buffer buffer, int length, String name) {
        return check(buffer, Buffer.Type.INT32, length, name);
    }

    private static CpuBuffer check(Buffer buffer, Buffer.Type type, int length, String name) {
        if (!(buffer instanceof CpuBuffer cpu)) {
            throw new IllegalArgumentException(name + " is not a CPU buffer: " + buffer);
        }
        ArgumentChecks.typeAndLength(cpu, type, length, name);
        return cpu;
    }

    /** Bad ids are caught before any write, so a failed op leaves no half-updated table. */
    private static CpuBuffer checkIds(Buffer ids, int rows, int vocab) {
        CpuBuffer ci = ints(ids, rows, "ids");
        ArgumentChecks.checkRange(ci.ints, ci.offset, rows, vocab, "embedding id");
        return ci;
    }

    private static CpuBuffer checkTargets(Buffer targets, int rows, int classes) {
        CpuBuffer ct = ints(targets, rows, "targets");
        ArgumentChecks.checkRange(ct.ints, ct.offset, rows, classes, "target");
        return ct;
    }

    private static int checkLength(int length) {
        if (length < 0) {
            throw new IllegalArgumentException("buffer length must not be negative: " + length);
        }
        return length;
    }

    private static void checkPositive(int value, String name) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be at least 1, got " + value);
        }
    }

    private static void checkMultiple(int length, int dim, String name) {
        if (dim < 1 || length % dim != 0) {
            throw new IllegalArgumentException(name + " has " + length + " elements, not a whole number of rows of " + dim);
        }
    }
}
