package dev.jbert.kernels.reference;

/** Embedding lookup (a gather of table rows) and its backward (a scatter-add). */
public final class ReferenceEmbedding {
    private ReferenceEmbedding() {}

    /** out [rows, dim] (+)= table [vocab, dim] at rows ids [rows]. */
    public static void embeddingForward(int[] ids, double[] table, double[] out, int rows, int dim,
                                        boolean accumulate) {
        for (int r = 0; r < rows; r++) {
            for (int d = 0; d < dim; d++) {
                double value = table[ids[r] * dim + d];
                out[r * dim + d] = accumulate ? out[r * dim + d] + value : value;
            }
        }
    }

    /** dTable [vocab, dim] at rows ids[r] += dOut [rows, dim]; repeated ids add up. */
    public static void embeddingBackward(int[] ids, double[] dOut, double[] dTable, int rows, int dim) {
        for (int r = 0; r < rows; r++) {
            for (int d = 0; d < dim; d++) {
                dTable[ids[r] * dim + d] += dOut[r * dim + d];
            }
        }
    }
}
