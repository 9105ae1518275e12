package dev.jbert.kernels.reference;

/** The attention softmax with the 1/sqrt(headDim) scale and the padding mask fused in. */
public final class ReferenceAttentionSoftmax {
    private ReferenceAttentionSoftmax() {}

    /**
     * scores, probs [batch, heads, tokens (queries), tokens (keys)]; mask [batch, tokens], 1 for
     * a real key, 0 for padding. Masked keys get probability 0.
     */
    public static void attentionSoftmaxForward(double[] scores, int[] mask, double[] probs,
                                               int batch, int heads, int tokens, double scale) {
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                for (int q = 0; q < tokens; q++) {
                    int row = ((b * heads + h) * tokens + q) * tokens;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int key = 0; key < tokens; key++) {
                        if (mask[b * tokens + key] != 0) {
                            max = Math.max(max, scale * scores[row + key]);
                        }
                    }
                    double sum = 0;
                    for (int key = 0; key < tokens; key++) {
                        boolean real = mask[b * tokens + key] != 0;
                        double e = real ? Math.exp(scale * scores[row + key] - max) : 0;
                        probs[row + key] = e;
                        sum += e;
                    }
                    for (int key = 0; key < tokens; key++) {
                        // a row with every key masked stays all zero (it cannot happen in BERT: [CLS] is real)
                        probs[row + key] = sum > 0 ? probs[row + key] / sum : 0;
                    }
                }
            }
        }
    }

    /** dScores = scale * probs * (dProbs - sum_k dProbs[k] * probs[k]), row by row. */
    public static void attentionSoftmaxBackward(double[] probs, double[] dProbs, double[] dScores,
                                                int batch, int heads, int tokens, double scale) {
        for (int rowIndex = 0; rowIndex < batch * heads * tokens; rowIndex++) {
            int row = rowIndex * tokens;
            double dot = 0;
            for (int key = 0; key < tokens; key++) {
                dot += dProbs[row + key] * probs[row + key];
            }
            for (int key = 0; key < tokens; key++) {
                dScores[row + key] = scale * probs[row + key] * (dProbs[row + key] - dot);
            }
        }
    }
}
