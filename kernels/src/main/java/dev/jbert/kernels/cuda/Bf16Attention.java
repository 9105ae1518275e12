package dev.jbert.kernels.cuda;

import dev.jbert.kernels.ArgumentChecks;
import dev.jbert.kernels.Buffer;
import dev.jbert.kernels.MatrixLayout;
import dev.jbert.kernels.Philox;
import dev.jbert.kernels.cuda.CudaKernels.Kernel;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The fused attention ops of {@code Backend} in bf16 mode (for rows the fused softmax kernels take):
 * the same ops as their defaults, the products multiplying bf16 copies.
 *
 * <p>For heads of 32 or 64 dimensions, each op is one kernel of {@code attention.cu} on bf16 copies of
 * Q, K and V (and dContext), where a block of query rows goes through all the keys with its [rows, keys]
 * tiles in registers. The two forwards write no {@code [B, H, T, T]} tensor but the float probabilities
 * the backward needs. The backward's kernel reads those, and writes dQ and the bf16 dropped
 * probabilities and score gradients that the cuBLAS products dV and dK read.
 *
 * <p>Otherwise the ops are cuBLAS products and softmax kernels: Q, K and V are rounded once per op (one
 * pass over the projection that holds all three), dContext once, and the softmax kernels write the
 * probabilities and their gradient as bf16 themselves, so the {@code [B, H, T, T]} tensors the products
 * read are half as large. Either way the float probsDropped is left alone, and dScores is at most
 * scratch. {@link CudaBackend} checks the buffers' types before it hands them here.
 */
final class Bf16Attention {
    // softmax.cu's kernels that write bf16
    private static final Kernel SOFTMAX_FORWARD = new Kernel("softmax", "attention_softmax_forward_bf16");
    private static final Kernel SOFTMAX_DROPOUT_FORWARD = new Kernel("softmax", "attention_softmax_dropout_forward_bf16");
    private static final Kernel DROPOUT_SOFTMAX_BACKWARD = new Kernel("softmax", "attention_dropout_softmax_backward_bf16");
    // attention.cu's forwards, by head size
    private static final Map<Integer, Kernel> EVALUATION = Map.of(32, new Kernel("attention", "attention_evaluation_32"),
            64, new Kernel("attention", "attention_evaluation_64"));
    private static final Map<Integer, Kernel> TRAINING_FORWARD = Map.of(
            32, new Kernel("attention", "attention_training_forward_32"),
            64, new Kernel("attention", "attention_training_forward_64"));
    private static final Map<Integer, Kernel> TRAINING_BACKWARD = Map.of(
            32, new Kernel("attention", "attention_training_backward_32"),
            64, new Kernel("attention", "attention_training_backward_64"));
    private static final int QUERY_ROWS = 64;                // per block of those kernels,
    private static final int THREADS = 32 * QUERY_ROWS / 16; // a warp to 16 of them

    private final CudaProducts products;
    private final CudaKernels kernels;
    // bf16 copies, two to a float: Q, K and V (all three in the first where they share one
    // projection, else one each), dContext, the probabilities and their gradient
    private final Scratch[] heads;
    private final Scratch context;
    private final Scratch probabilities;
    private final Scratch scoreGradients;

    Bf16Attention(CudaBackend backend, CudaProducts products, CudaKernels kernels) {
        this.products = products;
        this.kernels = kernels;
        this.heads = new Scratch[] {new Scratch(backend, Buffer.Type.FLOAT32), new Scratch(backend, Buffer.Type.FLOAT32),
                new Scratch(backend, Buffer.Type.FLOAT32)};
        this.context = new Scratch(backend, Buffer.Type.FLOAT32);
        this.probabilities = new Scratch(backend, Buffer.Type.FLOAT32);
        this.scoreGradients = new Scratch(backend, Buffer.Type.FLOAT32);
    }

    /**
     * {@code Backend.attentionEvaluation}; {@code scores} is left holding Q Kᵀ, not the probabilities
     * (which the doc allows), or untouched where one kernel takes the heads.
     */
    void evaluation(CudaBuffer q, CudaBuffer k, CudaBuffer v, MatrixLayout layout, CudaBuffer mask, CudaBuffer out,
                    MatrixLayout outLayout, CudaBuffer scores, int batch, int headCount, int tokens, int headDim, float scale) {
        int rows = batch * headCount * tokens;
        forward(q, k, v, layout, scores, out, outLayout, batch * headCount, tokens, headDim,
                qkv -> kernels.launch(EVALUATION.get(headDim), blocksOf(tokens), batch * headCount, THREADS, 1,
                        qkv[0], qkv[1], qkv[2], layout.rowStride(), layout.perGroup(), layout.groupStride(),
                        layout.memberStride(), mask, out, outLayout.rowStride(), outLayout.perGroup(),
                        outLayout.groupStride(), outLayout.memberStride(), headCount, tokens, scale),
                probs -> kernels.launch(SOFTMAX_FORWARD, CudaBackend.rowGrid(rows), 1, 32, CudaBackend.ROWS_PER_BLOCK,
                        scores, mask, probs, rows, headCount, tokens, scale));
    }

    /** {@code Backend.attentionTrainingForward}, leaving probsDropped alone. */
    void trainingForward(CudaBuffer q, CudaBuffer k, CudaBuffer v, MatrixLayout layout, CudaBuffer mask, CudaBuffer probs,
                         CudaBuffer out, MatrixLayout outLayout, int batch, int headCount, int tokens, int headDim,
                         float scale, float p, long seed, long stream) {
        Philox.checkProbability(p);
        int rows = batch * headCount * tokens;
        forward(q, k, v, layout, probs, out, outLayout, batch * headCount, tokens, headDim,
                qkv -> kernels.launch(TRAINING_FORWARD.get(headDim), blocksOf(tokens), batch * headCount, THREADS, 1,
                        qkv[0], qkv[1], qkv[2], layout.rowStride(), layout.perGroup(), layout.groupStride(),
                        layout.memberStride(), mask, probs, out, outLayout.rowStride(), outLayout.perGroup(),
                        outLayout.groupStride(), outLayout.memberStride(), headCount, tokens, scale,
                        Philox.keepThreshold(p), 1 / (1 - p), seed, stream),
                dropped -> kernels.launch(SOFTMAX_DROPOUT_FORWARD, CudaBackend.rowGrid(rows), 1, 32, CudaBackend.ROWS_PER_BLOCK,
                        probs, mask, probs, dropped, rows, headCount, tokens, scale, Philox.keepThreshold(p), 1 / (1 - p),
                        seed, stream));
    }

    /**
     * The two forwards' common part. Q, K and V are rounded into bf16 copies; then, where attention.cu's
     * kernels take the heads, {@code inOneKernel} runs one with the copies' addresses. Otherwise
     * {@code scores = Q Kᵀ} (float, [matrices, T, T]), then {@code softmax}, which turns the scores into
     * the bf16 matrices P it is given (and may write the float probabilities over the scores), then
     * {@code out = P V}.
     */
    private void forward(CudaBuffer q, CudaBuffer k, CudaBuffer v, MatrixLayout layout, CudaBuffer scores, CudaBuffer out,
                         MatrixLayout outLayout, int matrices, int tokens, int headDim, Consumer<long[]> inOneKernel,
                         Consumer<CudaBuffer> softmax) {
        MatrixLayout dense = MatrixLayout.dense(tokens, tokens);
        // the checks of the products this stands for, on the float operands
        ArgumentChecks.batchedGemm(false, true, tokens, tokens, headDim, q, layout, k, layout, scores, dense, matrices);
        ArgumentChecks.batchedGemm(false, false, tokens, headDim, tokens, scores, dense, v, layout, out, outLayout, matrices);
        long[] qkv = rounded(layout, matrices, tokens, headDim, q, k, v);
        if (oneKernelTakes(headDim, matrices, tokens, qkv, layout)) {
            inOneKernel.accept(qkv);
            return;
        }
        products.multiply(false, true, tokens, tokens, headDim, 1, qkv[0], layout, qkv[1], layout, 0, scores.address,
                dense, matrices, true);
        CudaBuffer p = probabilities.get((scores.length() + 1) / 2);
        softmax.accept(p);
        products.multiply(false, false, tokens, headDim, tokens, 1, p.address, dense, qkv[2], layout, 0, out.address,
                outLayout, matrices, true);
    }

    /**
     * {@code Backend.attentionTrainingBackward}, leaving probsDropped alone and dScores holding dDropped or
     * (where one kernel takes the heads) untouched.
     */
    void trainingBackward(CudaBuffer q, CudaBuffer k, CudaBuffer v, MatrixLayout layout, CudaBuffer probs,
                          CudaBuffer out, CudaBuffer dOut, MatrixLayout outLayout, CudaBuffer dq, CudaBuffer dk,
                          CudaBuffer dv, CudaBuffer dScores, int batch, int headCount, int tokens, int headDim, float scale,
                          float p, long seed, long stream) {
        Philox.checkProbability(p);
        int matrices = batch * headCount, rows = matrices * tokens, square = rows * tokens;
        MatrixLayout dense = MatrixLayout.dense(tokens, tokens);
        ArgumentChecks.batchedGemm(false, false, tokens, headDim, tokens, dScores, dense, v, layout, out, outLayout, matrices);
        ArgumentChecks.batchedGemm(false, true, tokens, tokens, headDim, dOut, outLayout, v, layout, dScores, dense, matrices);
        ArgumentChecks.batchedGemm(true, false, tokens, headDim, tokens, dScores, dense, dOut, outLayout, dv, layout, matrices);
        ArgumentChecks.batchedGemm(false, false, tokens, headDim, tokens, dScores, dense, k, layout, dq, layout, matrices);
        ArgumentChecks.batchedGemm(true, false, tokens, headDim, tokens, dScores, dense, q, layout, dk, layout, matrices);
        long[] qkv = rounded(layout, matrices, tokens, headDim, q, k, v);
        long dc = products.roundedToBf16(dOut.slice(0, (int) outLayout.end(matrices, tokens, headDim)), context).address;
        // bf16 copies of probsDropped (for dV) and dScores (for dQ and dK)
        CudaBuffer dropped = probabilities.get((square + 1) / 2), gradients = scoreGradients.get((square + 1) / 2);
        if (oneKernelTakes(headDim, matrices, tokens, new long[] {qkv[0], qkv[1], qkv[2], dc}, layout, outLayout)) {
            kernels.launch(TRAINING_BACKWARD.get(headDim), blocksOf(tokens), matrices, THREADS, 1, dc, dOut, out,
                    outLayout.rowStride(), outLayout.perGroup(), outLayout.groupStride(), outLayout.memberStride(),
                    qkv[1], qkv[2], layout.rowStride(), layout.perGroup(), layout.groupStride(), layout.memberStride(),
                    probs, dropped, gradients, dq, tokens, scale, Philox.keepThreshold(p), 1 / (1 - p), seed, stream);
        } else {
            // dDropped [T, T] = dContext Vᵀ, in float for the softmax backward, which writes the bf16 copies
            products.multiply(false, true, tokens, tokens, headDim, 1, dc, outLayout, qkv[2], layout, 0,
                    dScores.address, dense, matrices, true);
            kernels.launch(DROPOUT_SOFTMAX_BACKWARD, CudaBackend.rowGrid(rows), 1, 32, CudaBackend.ROWS_PER_BLOCK, probs,
                    dScores, dropped, gradients, rows, tokens, scale, Philox.keepThreshold(p), 1 / (1 - p), seed, stream);
            products.multiply(false, false, tokens, headDim, tokens, 1, gradients.address, dense, qkv[1], layout, 0,
                    dq.address, layout, matrices, true);
        }
        products.multiply(true, false, tokens, headDim, tokens, 1, dropped.address, dense, dc, outLayout, 0, dv.address,
                layout, matrices, true);
        products.multiply(true, false, tokens, headDim, tokens, 1, gradients.address, dense, qkv[0], layout, 0,
                dk.address, layout, matrices, true);
    }

    /**
     * Whether attention.cu's kernels take these heads, given the device addresses of the bf16 copies they
     * read and the layouts of those: a head size they are built for, rows no longer than the fused softmax
     * kernels take (as every row {@link CudaBackend} hands here is), every row of the copies starting on
     * 16 bytes (they copy 8 bf16 at a time), and no more matrices than a grid's y (65535).
     */
    private static boolean oneKernelTakes(int headDim, int matrices, int tokens, long[] copies, MatrixLayout... layouts) {
        boolean aligned = true;
        for (MatrixLayout layout : layouts) {
            aligned &= layout.rowStride() % 8 == 0 && layout.groupStride() % 8 == 0 && layout.memberStride() % 8 == 0;
        }
        for (long copy : copies) {
            aligned &= copy % 16 == 0;
        }
        return aligned && EVALUATION.containsKey(headDim) && tokens <= CudaBackend.FUSED_SOFTMAX_TOKENS
                && matrices <= 65535;
    }

    private static int blocksOf(int tokens) {
        return (tokens + QUERY_ROWS - 1) / QUERY_ROWS;
    }

    /**
     * bf16 copies of Q, K and V ({@code matrices} [tokens, headDim] matrices each, laid out by
     * {@code layout}); their device addresses, in that order. In the model all three interleave in
     * one projection [B, T, 3, H, D], and their buffers are slices of it that together cover one
     * stretch of memory: then the stretch their matrices reach is rounded once, and each copy lies at
     * its own place in it. Otherwise (separate buffers) each is rounded alone.
     */
    private long[] rounded(MatrixLayout layout, int matrices, int tokens, int headDim, CudaBuffer... operands) {
        long reach = layout.end(matrices, tokens, headDim); // elements from an operand's start
        CudaBuffer[] byAddress = operands.clone();
        Arrays.sort(byAddress, Comparator.comparingLong(buffer -> buffer.address));
        long start = byAddress[0].address, covered = start, reached = start;
        boolean oneStretch = true;
        for (CudaBuffer buffer : byAddress) {
            oneStretch &= buffer.address <= covered;
            covered = Math.max(covered, buffer.address + 4L * buffer.length());
            reached = Math.max(reached, buffer.address + 4 * reach);
        }
        long[] addresses = new long[operands.length];
        if (oneStretch && reached <= covered) {
            // the buffers cover [start, reached) without a gap, so it is memory of theirs
            CudaBuffer stretch = new CudaBuffer(byAddress[0].owner, start, Buffer.Type.FLOAT32, (int) ((reached - start) / 4));
            long copy = products.roundedToBf16(stretch, heads[0]).address;
            for (int i = 0; i < operands.length; i++) {
                addresses[i] = copy + (operands[i].address - start) / 2; // 4 bytes a float, 2 a bf16
            }
        } else {
            for (int i = 0; i < operands.length; i++) {
                addresses[i] = products.roundedToBf16(operands[i].slice(0, (int) reach), heads[i]).address;
            }
        }
        return addresses;
    }
}
