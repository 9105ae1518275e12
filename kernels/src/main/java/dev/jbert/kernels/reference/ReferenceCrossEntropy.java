package dev.jbert.kernels.reference;

/** Softmax cross-entropy over the classes of each row (the start or end position of an answer). */
public final class ReferenceCrossEntropy {
    private ReferenceCrossEntropy() {}

    /** probs [rows, classes] = softmax(logits); losses [rows] = logsumexp(logits) - logits[target]. */
    public static void crossEntropyForward(double[] logits, int[] targets, double[] probs,
                                           double[] losses, int rows, int classes) {
        for (int r = 0; r < rows; r++) {
            int row = r * classes;
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                max = Math.max(max, logits[row + c]);
            }
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                sum += Math.exp(logits[row + c] - max);
            }
            for (int c = 0; c < classes; c++) {
                probs[row + c] = Math.exp(logits[row + c] - max) / sum;
            }
            losses[r] = Math.log(sum) + max - logits[row + targets[r]];
        }
    }

    /** dLogits = dLoss * (probs - onehot(targets)). */
    public static void crossEntropyBackward(double[] probs, int[] targets, double[] dLogits,
                                            int rows, int classes, double dLoss) {
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < classes; c++) {
                double target = c == targets[r] ? 1 : 0;
                dLogits[r * classes + c] = dLoss * (probs[r * classes + c] - target);
            }
        }
    }
}
