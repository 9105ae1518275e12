package dev.jbert.kernels;

/**
 * Everything BERT needs from a compute device: memory, copies, and the ops of the forward and
 * backward pass. The model is written against this interface only, so it never knows whether a
 * Java array or a GPU holds its numbers.
 *
 * <p>Contract, shared by every backend:
 * <ul>
 *   <li>Ops are enqueued in call order and may run asynchronously; {@link #copyOut} and
 *       {@link #synchronize} wait for everything before them. (The CPU backend simply runs each
 *       op before returning.)
 *   <li>All matrices are row-major and densely packed. Shapes are given in the comments as
 *       {@code [rows, cols]}; {@code B} is the batch, {@code T} tokens, {@code C} channels.
 *   <li>Outputs named {@code d...} for activations are overwritten; gradients of parameters
 *       ({@code dGamma}, {@code dBias}, {@code dTable}, ...) are accumulated into ({@code +=}), so
 *       that gradient accumulation over micro-batches needs no extra pass. Zero them with
 *       {@link #fill} at the start of a step.
 *   <li>An output buffer may alias an input only where the method says so.
 *   <li>Every op has a plain double-precision twin in {@code dev.jbert.kernels.reference}; that
 *       twin is the definition, and the test harness holds each backend to it.
 * </ul>
 */
public interface Backend extends AutoCloseable {

    /** A short name for messages and benchmarks, e.g. {@code cpu (AVX-512, 2 threads)}. */
    String name();

    // ---- memory --------------------------------------------------------------------------------

    /** A new buffer of {@code length} floats, all zero. */
    Buffer allocateFloats(int length);

    /** A new buffer of {@code length} ints, all zero. */
    Buffer allocateInts(int length);

    /** Copies {@code source} into {@code target}; the lengths must match. */
    void copyIn(float[] source, Buffer target);

    void copyIn(int[] source, Buffer target);

    /** Waits for the ops before it, then copies {@code source} out; the lengths must match. */
    void copyOut(Buffer source, float[] target);

    void copyOut(Buffer source, int[] target);

    /** Device-to-device copy between float buffers of the same length. */
    void copy(Buffer source, Buffer target);

    /** Sets every element of a float buffer to {@code value}. */
    void fill(Buffer target, float value);

    /** Waits until every op enqueued so far has finished. */
    void synchronize();

    /**
     * How many bytes this backend can hold in all: the JVM's maximum heap on the CPU, the device's
     * memory on a GPU. The model sizes what it may keep rather than recompute by it.
     */
    long memoryCapacity();

    /** Frees the backend's resources; buffers must not be used afterwards. */
    @Override
    void close();

    // ---- matrix products ------------------------------------------------------------------------

    /**
     * {@code C = alpha * op(A) op(B) + beta * C}, where {@code op(A)} is {@code [m, k]} (A is
     * stored {@code [k, m]} when {@code transA}) and {@code op(B)} is {@code [k, n]} (stored
     * {@code [n, k]} when {@code transB}); C is {@code [m, n]}. When {@code beta} is 0, C is not
     * read. A Linear layer with HF's weight layout {@code W [out, in]} is
     * {@code gemm(false, true, rows, out, in, 1, x, W, 0, y)}.
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k,
              float alpha, Buffer a, Buffer b, float beta, Buffer c);

    /**
     * A Linear layer's forward, {@code y [rows, out] = x [rows, in] Wᵀ + bias [out]}, with HF's
     * weight layout {@code W [out, in]}: the GEMM, then {@link #addBias}. A backend may add the bias
     * as it writes y instead of in a pass of its own: the CPU does, bit for bit the two ops; the CUDA
     * backend in a cuBLASLt epilogue, whose GEMM may round differently within the GEMM's tolerance.
     */
    default void linearForward(Buffer x, Buffer weight, Buffer bias, Buffer y, int rows, int out, int in) {
        gemm(false, true, rows, out, in, 1, x, weight, 0, y);
        addBias(y, bias, rows, out);
    }

    /**
     * The backward of {@link #linearForward}: {@code dW [out, in] += dyᵀ x}, {@code dBias [out] +=}
     * the column sums of {@code dy [rows, out]}, and {@code dx [rows, in] = dy W} ({@code +=} when
     * {@code accumulate}, for a residual's second branch). This default runs those three ops, in that
     * order; a backend may share work between them (the CUDA backend in bf16 mode rounds dy once for
     * both GEMMs).
     */
    default void linearBackward(Buffer dy, Buffer x, Buffer weight, Buffer dWeight, Buffer dBias, Buffer dx,
                                boolean accumulate, int rows, int out, int in) {
        gemm(true, false, out, in, rows, 1, dy, x, 1, dWeight);
        biasBackward(dy, dBias, rows, out);
        gemm(false, false, rows, in, out, 1, dy, weight, accumulate ? 1 : 0, dx);
    }

    /**
     * {@code batch} independent GEMMs over consecutive dense matrices: matrix {@code z} of A starts
     * at element {@code z * m * k} of {@code a}, and likewise for B and C.
     */
    default void gemmBatched(boolean transA, boolean transB, int m, int n, int k,
                             float alpha, Buffer a, Buffer b, float beta, Buffer c, int batch) {
        gemmBatched(transA, transB, m, n, k, alpha, a, MatrixLayout.dense(transA ? k : m, transA ? m : k),
                b, MatrixLayout.dense(transB ? n : k, transB ? k : n), beta, c, MatrixLayout.dense(m, n), batch);
    }

    /**
     * {@code batch} independent GEMMs of the same shape, each operand's matrices where its layout
     * puts them in its buffer (see {@link MatrixLayout}: a row stride and a start per matrix).
     * Attention runs one per (sequence, head), reading Q, K and V in place from the
     * {@code [B, T, 3, H, D]} projection and writing the context straight into {@code [B, T, H, D]}.
     * The matrices of C must not overlap.
     */
    void gemmBatched(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     Buffer a, MatrixLayout aLayout, Buffer b, MatrixLayout bLayout,
                     float beta, Buffer c, MatrixLayout cLayout, int batch);

    // ---- elementwise and layout ---------------------------------------------------------------

    /** {@code x[r, c] += bias[c]} for x {@code [rows, cols]}, in place. */
    void addBias(Buffer x, Buffer bias, int rows, int cols);

    /** {@code dBias[c] += sum over r of dy[r, c]}: the bias gradient of {@link #addBias}. */
    void biasBackward(Buffer dy, Buffer dBias, int rows, int cols);

    /** {@code out = a + b} elementwise (the residual connection); {@code out} may alias either. */
    void add(Buffer a, Buffer b, Buffer out);

    /**
     * {@code out = a - b} elementwise: the training dynamics take what an optimizer step changed as
     * the parameters after it minus a copy from before; {@code out} may alias either.
     */
    void subtract(Buffer a, Buffer b, Buffer out);

    /**
     * {@code y[a, c, b, d] = x[a, b, c, d]}: swaps the two middle axes of {@code x [d0, d1, d2, d3]}.
     * Attention uses it to turn {@code [B, T, heads, headDim]} into {@code [B, heads, T, headDim]}
     * and back; its backward is the same op with {@code d1} and {@code d2} exchanged.
     */
    void swapMiddleAxes(Buffer x, Buffer y, int d0, int d1, int d2, int d3);

    /** {@code y = gelu(x) = x * Φ(x)}, the exact erf form BERT uses; {@code y} may alias {@code x}. */
    void geluForward(Buffer x, Buffer y);

    /** {@code dx = dy * gelu'(x)}; {@code dx} may alias {@code dy}. */
    void geluBackward(Buffer x, Buffer dy, Buffer dx);

    /**
     * {@code y = gelu(x)} and {@code dx = dy * gelu'(x)}: the backward of a GELU whose output was not
     * kept, and is needed again (by the next layer's weight gradient). This default runs the two ops;
     * a backend may do both in one pass, reading x and computing its erf once. {@code y} is
     * bit-identical to {@link #geluForward}'s; {@code dx} may alias {@code dy}, {@code y} aliases neither.
     */
    default void geluForwardAndBackward(Buffer x, Buffer y, Buffer dy, Buffer dx) {
        geluForward(x, y);
        geluBackward(x, dy, dx);
    }

    /**
     * Inverted dropout: {@code y[i] = keep(i) ? x[i] / (1 - p) : 0}. Whether element {@code i} is
     * kept is decided by Philox4x32-10 (see {@link Philox#keep}) from {@code seed}, {@code stream}
     * and {@code i} alone, so every backend and every thread count draws the same mask. The
     * backward is this same op applied to the gradient with the same seed and stream: nothing is
     * stored. {@code y} may alias {@code x}.
     */
    void dropout(Buffer x, Buffer y, float p, long seed, long stream);

    // ---- normalization ------------------------------------------------------------------------

    /**
     * LayerNorm over the last axis of x {@code [rows, cols]}:
     * {@code y = (x - mean) * rstd * gamma + beta}, {@code rstd = 1 / sqrt(var + eps)} with the
     * biased variance. Saves {@code mean [rows]} and {@code rstd [rows]} for the backward.
     */
    void layerNormForward(Buffer x, Buffer gamma, Buffer beta, Buffer y, Buffer mean, Buffer rstd,
                          int rows, int cols, float eps);

    /** Overwrites {@code dx}; accumulates {@code dGamma} and {@code dBeta}. */
    void layerNormBackward(Buffer dy, Buffer x, Buffer gamma, Buffer mean, Buffer rstd,
                           Buffer dx, Buffer dGamma, Buffer dBeta, int rows, int cols);

    // ---- attention ----------------------------------------------------------------------------

    /**
     * The attention softmax, with the scale and the padding mask fused in: for scores
     * {@code [B, heads, T, T]} and {@code mask [B, T]} (1 = a real token, 0 = padding),
     * {@code probs[b, h, q, :] = softmax(scale * scores[b, h, q, :])} taken over the keys whose mask
     * is 1; masked keys get probability 0 (HF adds the most negative float instead, which gives
     * the same numbers). {@code probs} may alias {@code scores}.
     */
    void attentionSoftmaxForward(Buffer scores, Buffer mask, Buffer probs, int batch, int heads,
                                 int tokens, float scale);

    /**
     * The attention softmax followed by the attention dropout: {@code probs} as
     * {@link #attentionSoftmaxForward} computes it (and may alias {@code scores}), and
     * {@code probsDropped = dropout(probs)} with p, seed and stream as {@link #dropout} takes them.
     * This default runs those two ops; a backend may fuse them into one pass per row, where probs may
     * differ from attentionSoftmaxForward's by rounding (the model recomputes them with this same op).
     */
    default void attentionSoftmaxDropoutForward(Buffer scores, Buffer mask, Buffer probs, Buffer probsDropped,
                                                int batch, int heads, int tokens, float scale,
                                                float p, long seed, long stream) {
        attentionSoftmaxForward(scores, mask, probs, batch, heads, tokens, scale);
        dropout(probs, probsDropped, p, seed, stream);
    }

    /**
     * Attention in an evaluation forward, per (sequence, head): {@code context = softmax(scale Q Kᵀ) V}
     * over the real keys. Q, K and V are {@code [T, D]} matrices where {@code heads} puts them in
     * their buffers, and each context matrix goes where {@code contextHeads} says, as
     * {@link #gemmBatched} takes them; {@code mask [B, T]} as {@link #attentionSoftmaxForward}'s. This
     * default runs those three ops, the probabilities passing through {@code scores}
     * ({@code [B, H, T, T]}, left holding them); a backend may instead take one (sequence, head) at a
     * time and keep its {@code [T, T]} probabilities in cache, never writing {@code scores}.
     */
    default void attentionEvaluation(Buffer q, Buffer k, Buffer v, MatrixLayout heads, Buffer mask, Buffer context,
                                     MatrixLayout contextHeads, Buffer scores, int batch, int headCount, int tokens,
                                     int headDim, float scale) {
        MatrixLayout dense = MatrixLayout.dense(tokens, tokens);
        gemmBatched(false, true, tokens, tokens, headDim, 1, q, heads, k, heads, 0, scores, dense, batch * headCount);
        attentionSoftmaxForward(scores, mask, scores, batch, headCount, tokens, scale);
        gemmBatched(false, false, tokens, headDim, tokens, 1, scores, dense, v, heads, 0, context, contextHeads,
                batch * headCount);
    }

    /**
     * Attention in a training forward with attention dropout, per (sequence, head):
     * {@code probs = softmax(scale Q Kᵀ)} over the real keys, written to {@code probs [B, H, T, T]}
     * for the backward, and {@code context = dropout(probs) V}, the dropout's p, seed and stream as
     * {@link #attentionSoftmaxDropoutForward} takes them. Layouts and mask as in
     * {@link #attentionEvaluation}. This default runs those three ops, the dropped probabilities
     * passing through {@code probsDropped [B, H, T, T]}; a backend may instead take one
     * (sequence, head) at a time, keep its dropped probabilities in cache and leave probsDropped alone.
     */
    default void attentionTrainingForward(Buffer q, Buffer k, Buffer v, MatrixLayout heads, Buffer mask, Buffer probs,
                                          Buffer probsDropped, Buffer context, MatrixLayout contextHeads,
                                          int batch, int headCount, int tokens, int headDim, float scale,
                                          float p, long seed, long stream) {
        MatrixLayout dense = MatrixLayout.dense(tokens, tokens);
        int matrices = batch * headCount;
        gemmBatched(false, true, tokens, tokens, headDim, 1, q, heads, k, heads, 0, probs, dense, matrices);
        attentionSoftmaxDropoutForward(probs, mask, probs, probsDropped, batch, headCount, tokens, scale, p, seed, stream);
        gemmBatched(false, false, tokens, headDim, tokens, 1, probsDropped, dense, v, heads, 0, context, contextHeads,
                matrices);
    }

    /**
     * The backward of {@link #attentionTrainingForward}: from {@code dContext} (laid out by
     * {@code contextHeads}) and the forward's {@code probs}, writes the gradients of Q, K and V into
     * {@code dq}, {@code dk} and {@code dv} (laid out by {@code heads}, overwritten). {@code context} is
     * that forward's output (laid out as dContext), which a backend may use for the softmax backward's
     * row sums, {@code sum(probsDropped * dDropped) = dContext · context} row by row, equal up to
     * rounding (this default does not read it). This default runs five ops:
     * {@code dScores = dContext Vᵀ}, {@link #attentionDropoutSoftmaxBackward} (which draws the dropped
     * probabilities again into {@code probsDropped} and turns dScores into the scores' gradient, in
     * place), {@code dV = probsDroppedᵀ dContext}, {@code dQ = dScores K}, {@code dK = dScoresᵀ Q}; a
     * backend may instead take one (sequence, head) at a time with its [T, T] blocks in cache, leaving
     * {@code dScores} and {@code probsDropped} ([B, H, T, T]) alone.
     */
    default void attentionTrainingBackward(Buffer q, Buffer k, Buffer v, MatrixLayout heads, Buffer probs,
                                           Buffer context, Buffer dContext, MatrixLayout contextHeads, Buffer dq,
                                           Buffer dk, Buffer dv, Buffer dScores, Buffer probsDropped, int batch,
                                           int headCount, int tokens, int headDim, float scale, float p, long seed,
                                           long stream) {
        MatrixLayout dense = MatrixLayout.dense(tokens, tokens);
        int matrices = batch * headCount;
        gemmBatched(false, true, tokens, tokens, headDim, 1, dContext, contextHeads, v, heads, 0, dScores, dense, matrices);
        attentionDropoutSoftmaxBackward(probs, dScores, probsDropped, dScores, batch, headCount, tokens, scale,
                p, seed, stream);
        gemmBatched(true, false, tokens, headDim, tokens, 1, probsDropped, dense, dContext, contextHeads, 0, dv, heads,
                matrices);
        gemmBatched(false, false, tokens, headDim, tokens, 1, dScores, dense, k, heads, 0, dq, heads, matrices);
        gemmBatched(true, false, tokens, headDim, tokens, 1, dScores, dense, q, heads, 0, dk, heads, matrices);
    }

    /**
     * {@code dScores = scale * probs * (dProbs - sum(dProbs * probs))} row by row: the gradient of
     * the scores through the forward above. {@code dScores} may alias {@code dProbs}.
     */
    void attentionSoftmaxBackward(Buffer probs, Buffer dProbs, Buffer dScores, int batch, int heads,
                                  int tokens, float scale);

    /**
     * The same backward through the attention dropout, which also draws the dropped probabilities
     * again: where the forward ran {@code probsDropped = dropout(probs)} (p, seed and stream as given)
     * and {@code dDropped} is the gradient of probsDropped, this writes that {@code probsDropped}
     * (which dV = probsDroppedᵀ dContext needs next) and
     * {@code dScores = attentionSoftmaxBackward(probs, dropout(dDropped))}. This default runs exactly
     * those three ops; a backend may fuse them into one pass per row, since
     * {@code probs * dropout(d) = probsDropped * d} elementwise:
     * {@code dScores = scale * (probsDropped * d - probs * sum(probsDropped * d))}, equal up to
     * rounding. {@code dScores} may alias {@code dDropped}; {@code probsDropped} aliases neither.
     */
    default void attentionDropoutSoftmaxBackward(Buffer probs, Buffer dDropped, Buffer probsDropped, Buffer dScores,
                                                 int batch, int heads, int tokens, float scale,
                                                 float p, long seed, long stream) {
        dropout(probs, probsDropped, p, seed, stream);
        dropout(dDropped, dScores, p, seed, stream);
        attentionSoftmaxBackward(probs, dScores, dScores, batch, heads, tokens, scale);
    }

    // ---- embeddings ---------------------------------------------------------------------------

    /**
     * {@code out[r, :] = table[ids[r], :]}, or {@code +=} when {@code accumulate}: the word,
     * position and token-type embeddings are three gathers into one sum. {@code ids [rows]}
     * are ints, {@code table [vocab, dim]}, {@code out [rows, dim]}.
     */
    void embeddingForward(Buffer ids, Buffer table, Buffer out, int rows, int dim, boolean accumulate);

    /** {@code dTable[ids[r], :] += dOut[r, :]} for every r: the scatter-add backward of the gather. */
    void embeddingBackward(Buffer ids, Buffer dOut, Buffer dTable, int rows, int dim);

    // ---- loss ---------------------------------------------------------------------------------

    /**
     * Softmax cross-entropy, row by row: for logits {@code [rows, classes]} and int targets
     * {@code [rows]}, {@code probs = softmax(logits)} and
     * {@code losses[r] = -log probs[r, targets[r]]} (computed as logsumexp - logit, so it stays
     * finite). {@code probs} is saved for the backward.
     */
    void crossEntropyForward(Buffer logits, Buffer targets, Buffer probs, Buffer losses,
                             int rows, int classes);

    /**
     * {@code dLogits = dLoss * (probs - onehot(targets))}, where {@code dLoss} is the gradient of
     * the final loss with respect to each row's loss (for a mean over rows, {@code 1 / rows}).
     */
    void crossEntropyBackward(Buffer probs, Buffer targets, Buffer dLogits, int rows, int classes,
                              float dLoss);

    // ---- optimizer ----------------------------------------------------------------------------

    /**
     * One AdamW step (PyTorch's order of operations) over a slice of parameters:
     * <pre>
     *   p = p * (1 - lr * weightDecay)
     *   m = beta1 * m + (1 - beta1) * g
     *   v = beta2 * v + (1 - beta2) * g * g
     *   p = p - (lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
     * </pre>
     * {@code step} counts from 1.
     */
    void adamW(Buffer params, Buffer grads, Buffer m, Buffer v, AdamW settings, int step);

    /** {@code result[0] = sum of x[i]^2}, accumulated in double; result stays on the device. */
    void sumOfSquares(Buffer x, Buffer result);

    /**
     * Gradient clipping by global norm, as {@code torch.nn.utils.clip_grad_norm_}: with
     * {@code norm = sqrt(sumOfSquares[0])}, multiplies x by {@code maxNorm / (norm + 1e-6)} when
     * that is below 1. Reads the norm on the device, so no round trip is needed.
     */
    void clipByGlobalNorm(Buffer x, Buffer sumOfSquares, float maxNorm);
}
