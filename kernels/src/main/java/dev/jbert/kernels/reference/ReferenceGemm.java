package dev.jbert.kernels.reference;

import dev.jbert.kernels.MatrixLayout;

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

    /** {@code batch} GEMMs over consecutive dense matrices of A, B and C. */
    public static void gemmBatched(boolean transA, boolean transB, int m, int n, int k,
                                   double alpha, double[] a, double[] b, double beta, double[] c,
                                   int batch) {
        gemmBatched(transA, transB, m, n, k, alpha, a, MatrixLayout.dense(transA ? k : m, transA ? m : k),
                b, MatrixLayout.dense(transB ? n : k, transB ? k : n), beta, c, MatrixLayout.dense(m, n), batch);
    }

    /** {@code batch} GEMMs, each operand's matrices where its layout puts them. */
    public static void gemmBatched(boolean transA, boolean transB, int m, int n, int k, double alpha,
                                   double[] a, MatrixLayout aLayout, double[] b, MatrixLayout bLayout,
                                   double beta, double[] c, MatrixLayout cLayout, int batch) {
        int lda = aLayout.rowStride(), ldb = bLayout.rowStride(), ldc = cLayout.rowStride();
        for (int matrix = 0; matrix < batch; matrix++) {
            int aBase = (int) aLayout.start(matrix);
            int bBase = (int) bLayout.start(matrix);
            int cBase = (int) cLayout.start(matrix);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int p = 0; p < k; p++) {
                        double aip = transA ? a[aBase + p * lda + i] : a[aBase + i * lda + p];
                        double bpj = transB ? b[bBase + j * ldb + p] : b[bBase + p * ldb + j];
                        sum += aip * bpj;
                    }
                    // BLAS: with beta = 0, C is not read, so garbage (even NaN) in it is harmless
                    double old = beta == 0 ? 0 : beta * c[cBase + i * ldc + j];
                    c[cBase + i * ldc + j] = alpha * sum + old;
                }
            }
        }
    }
}
