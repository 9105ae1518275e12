package dev.jbert.kernels.reference;

/** Matrix products: the textbook triple loop. */
public final class ReferenceGemm {
    private ReferenceGemm() {}

    /**
     * {@code C [m, n] = alpha * op(A) op(B) + beta * C}; op(A) is {@code [m, k]}, stored
     * {@code [k, m]} when transA; op(B) is {@code [k, n]}, stored {@code [n, k]} when transB.
     */
    public static void gemm(boolean transA, boolean transB, int m, int n, int k,
                            double alpha, double[] a, double[] b, double beta, double[] c) {
        gemmBatched(transA, transB, m, n, k, alpha, a, b, beta, c, 1);
    }

    /** {@code batch} GEMMs over consecutive matrices of A, B and C. */
    public static void gemmBatched(boolean transA, boolean transB, int m, int n, int k,
                                   double alpha, double[] a, double[] b, double beta, double[] c,
                                   int batch) {
        for (int matrix = 0; matrix < batch; matrix++) {
            int aBase = matrix * m * k;
            int bBase = matrix * k * n;
            int cBase = matrix * m * n;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int p = 0; p < k; p++) {
                        double aip = transA ? a[aBase + p * m + i] : a[aBase + i * k + p];
                        double bpj = transB ? b[bBase + j * k + p] : b[bBase + p * n + j];
                        sum += aip * bpj;
                    }
                    // BLAS: with beta = 0, C is not read, so garbage (even NaN) in it is harmless
                    double old = beta == 0 ? 0 : beta * c[cBase + i * n + j];
                    c[cBase + i * n + j] = alpha * sum + old;
                }
            }
        }
    }
}
