package dev.jbert.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Softmaxes: attention's (scale and padding mask fused in, rows of T keys) and the loss's
 * cross-entropy (rows of T token positions). Every row is independent, so rows are split over
 * the threads.
 */
final class SoftmaxKernels {
    static final int ROWS_PER_TASK = 64; // a multiple of 32, so blocks of rows start Philox tiles (see CpuBackend's inRowBlocks)

    private final Parallel parallel;
    private final Simd simd;

    SoftmaxKernels(Parallel parallel, Simd simd) {
        this.parallel = parallel;
        this.simd = simd;
    }

    /**
     * probs [B, heads, T, T] = softmax over real keys of scale * scores, masked keys 0.
     * mask [B, T] holds 1 for a real token. Three passes over each row: max, exp and sum, divide.
     */
    void attentionForward(CpuBuffer scores, CpuBuffer mask, CpuBuffer probs, int batch, int heads,
                          int tokens, float scale) {
        parallel.parallelForRanges(batch * heads * tokens, ROWS_PER_TASK,
                (first, last) -> attentionForwardRows(scores, mask, probs, heads, tokens, scale, first, last));
    }

    /** Rows [first, last) of {@link #attentionForward}, on the calling thread. */
    void attentionForwardRows(CpuBuffer scores, CpuBuffer mask, CpuBuffer probs, int heads, int tokens, float scale,
                              int first, int last) {
        float[] lanes = Simd.lanes();
        for (int rowIndex = first; rowIndex < last; rowIndex++) {
            int b = rowIndex / (heads * tokens);
            attentionRow(scores.floats, scores.offset + rowIndex * tokens, mask.ints, mask.offset + b * tokens,
                    probs.floats, probs.offset + rowIndex * tokens, tokens, scale, lanes);
        }
    }

    /**
     * One row of the attention softmax: {@code ps[out ..]} = softmax over the real keys of
     * {@code scale * ss[in ..]}, the keys' mask at {@code ms[maskRow ..]}, {@code tokens} long;
     * {@code lanes} is the caller's {@link Simd#lanes}. Three passes over the row: max, exp and sum, divide.
     */
    void attentionRow(float[] ss, int in, int[] ms, int maskRow, float[] ps, int out, int tokens, float scale,
                      float[] lanes) {
        int bound = simd.bound(tokens);
        FloatVector vmax = FloatVector.broadcast(Simd.FLOATS, Float.NEGATIVE_INFINITY);
        int k = 0;
        for (; k < bound; k += Simd.LANES) {
            VectorMask<Float> real = IntVector.fromArray(Simd.INTS, ms, maskRow + k)
                    .compare(VectorOperators.NE, 0).cast(Simd.FLOATS);
            FloatVector s = FloatVector.fromArray(Simd.FLOATS, ss, in + k).mul(scale);
            vmax = vmax.lanewise(VectorOperators.MAX, s, real);
        }
        float max = vmax.reduceLanes(VectorOperators.MAX); // exact in any order
        for (; k < tokens; k++) {
            if (ms[maskRow + k] != 0) {
                max = Math.max(max, ss[in + k] * scale);
            }
        }

        // e^(scale s - max) computed in place in the output row (Simd.exp takes an array); the
        // masking and the sum are a second pass, so that no vector is live across the call
        for (k = 0; k < bound; k += Simd.LANES) {
            FloatVector.fromArray(Simd.FLOATS, ss, in + k).mul(scale).sub(max).intoArray(ps, out + k);
            Simd.exp(ps, out + k);
        }
        FloatVector vsum = FloatVector.zero(Simd.FLOATS);
        for (k = 0; k < bound; k += Simd.LANES) {
            VectorMask<Float> masked = IntVector.fromArray(Simd.INTS, ms, maskRow + k)
                    .compare(VectorOperators.EQ, 0).cast(Simd.FLOATS);
            FloatVector e = FloatVector.fromArray(Simd.FLOATS, ps, out + k).blend(0f, masked);
            e.intoArray(ps, out + k);
            vsum = vsum.add(e);
        }
        vsum.intoArray(lanes, 0);
        float sum = Simd.sum(lanes);
        for (; k < tokens; k++) {
            float e = ms[maskRow + k] != 0 ? (float) Math.exp(ss[in + k] * scale - max) : 0f;
            ps[out + k] = e;
            sum += e;
        }

        float inverse = sum > 0 ? 1 / sum : 0; // all keys masked: a row of zeros
        for (k = 0; k < bound; k += Simd.LANES) {
            FloatVector.fromArray(Simd.FLOATS, ps, out + k).mul(inverse).intoArray(ps, out + k);
        }
        for (; k < tokens; k++) {
            ps[out + k] *= inverse;
        }
    }

    /**
     * dScores = scale * (kept * dKept - probs * sum(kept * dKept)), row by row, where kept is
     * dropout(probs) and dKept the gradient of that; without dropout kept is probs and this is
     * {@code scale * probs * (dProbs - sum(dProbs * probs))}. (With dropout, dProbs = dropout(dKept)
     * with the same mask, and probs * dropout(dKept) = kept * dKept: no mask to draw again.)
     */
    void attentionBackward(CpuBuffer probs, CpuBuffer kept, CpuBuffer dKept, CpuBuffer dScores, int batch, int heads,
                           int tokens, float scale) {
        parallel.parallelForRanges(batch * heads * tokens, ROWS_PER_TASK,
                (first, last) -> attentionBackwardRows(probs, kept, dKept, dScores, tokens, scale, first, last));
    }

    /** Rows [first, last) of {@link #attentionBackward}, on the calling thread. */
    void attentionBackwardRows(CpuBuffer probs, CpuBuffer kept, CpuBuffer dKept, CpuBuffer dScores, int tokens,
                               float scale, int first, int last) {
        float[] lanes = Simd.lanes();
        for (int rowIndex = first; rowIndex < last; rowIndex++) {
            attentionBackwardRow(probs.floats, probs.offset + rowIndex * tokens, kept.floats, kept.offset + rowIndex * tokens,
                    dKept.floats, dKept.offset + rowIndex * tokens, dScores.floats, dScores.offset + rowIndex * tokens,
                    tokens, scale, lanes);
        }
    }

    /**
     * One row of {@link #attentionBackward}, each operand's row where its array and start say
     * ({@code dss} may be {@code dks}, the same row); {@code lanes} is the caller's {@link Simd#lanes}.
     */
    void attentionBackwardRow(float[] ps, int p, float[] ks, int kp, float[] dks, int dk, float[] dss, int ds,
                              int tokens, float scale, float[] lanes) {
        int bound = simd.bound(tokens);
        FloatVector vdot = FloatVector.zero(Simd.FLOATS);
        int k = 0;
        for (; k < bound; k += Simd.LANES) {
            vdot = FloatVector.fromArray(Simd.FLOATS, dks, dk + k)
                    .fma(FloatVector.fromArray(Simd.FLOATS, ks, kp + k), vdot);
        }
        vdot.intoArray(lanes, 0);
        float dot = Simd.sum(lanes);
        for (; k < tokens; k++) {
            dot += dks[dk + k] * ks[kp + k];
        }
        for (k = 0; k < bound; k += Simd.LANES) {
            FloatVector.fromArray(Simd.FLOATS, ks, kp + k).mul(FloatVector.fromArray(Simd.FLOATS, dks, dk + k))
                    .sub(FloatVector.fromArray(Simd.FLOATS, ps, p + k).mul(dot)).mul(scale)
                    .intoArray(dss, ds + k);
        }
        for (; k < tokens; k++) {
            dss[ds + k] = (ks[kp + k] * dks[dk + k] - ps[p + k] * dot) * scale;
        }
    }

    /** probs [rows, classes] = softmax(logits); losses [rows] = logsumexp - logits[target]. */
    void crossEntropyForward(CpuBuffer logits, CpuBuffer targets, CpuBuffer probs, CpuBuffer losses,
                             int rows, int classes) {
        float[] ls = logits.floats;
        float[] ps = probs.floats;
        parallel.parallelFor(rows, r -> {
            int in = logits.offset + r * classes;
            int out = probs.offset + r * classes;
            float max = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                max = Math.max(max, ls[in + c]);
            }
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                float e = (float) Math.exp(ls[in + c] - max);
                ps[out + c] = e;
                sum += e;
            }
            float inverse = (float) (1 / sum);
            for (int c = 0; c < classes; c++) {
                ps[out + c] *= inverse;
            }
            int target = targets.ints[targets.offset + r];
            losses.floats[losses.offset + r] = (float) (Math.log(sum) + max - ls[in + target]);
        });
    }

    /** dLogits = dLoss (probs - onehot(targets)). */
    void crossEntropyBackward(CpuBuffer probs, CpuBuffer targets, CpuBuffer dLogits, int rows,
                              int classes, float dLoss) {
        parallel.parallelFor(rows, r -> {
            int in = probs.offset + r * classes;
            int out = dLogits.offset + r * classes;
            for (int c = 0; c < classes; c++) {
                dLogits.floats[out + c] = dLoss * probs.floats[in + c];
            }
            dLogits.floats[out + targets.ints[targets.offset + r]] -= dLoss;
        });
    }
}
