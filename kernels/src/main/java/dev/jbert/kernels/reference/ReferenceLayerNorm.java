package dev.jbert.kernels.reference;

/** LayerNorm over the last axis, with the biased variance (as PyTorch). */
public final class ReferenceLayerNorm {
    private ReferenceLayerNorm() {}

    /** y [rows, cols] = (x - mean) * rstd * gamma + beta; saves mean [rows] and rstd [rows]. */
    public static void layerNormForward(double[] x, double[] gamma, double[] beta, double[] y,
                                        double[] mean, double[] rstd, int rows, int cols, double eps) {
        for (int r = 0; r < rows; r++) {
            int row = r * cols;
            double sum = 0;
            for (int c = 0; c < cols; c++) {
                sum += x[row + c];
            }
            double mu = sum / cols;
            double squares = 0;
            for (int c = 0; c < cols; c++) {
                double centered = x[row + c] - mu;
                squares += centered * centered;
            }
            double s = 1 / Math.sqrt(squares / cols + eps);
            for (int c = 0; c < cols; c++) {
                y[row + c] = (x[row + c] - mu) * s * gamma[c] + beta[c];
            }
            mean[r] = mu;
            rstd[r] = s;
        }
    }

    /**
     * With xhat = (x - mean) * rstd and g = dy * gamma:
     * {@code dx = rstd * (g - mean(g) - xhat * mean(g * xhat))}; dGamma += sum over rows of
     * dy * xhat; dBeta += sum over rows of dy.
     */
    public static void layerNormBackward(double[] dy, double[] x, double[] gamma, double[] mean,
                                         double[] rstd, double[] dx, double[] dGamma,
                                         double[] dBeta, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int row = r * cols;
            double meanG = 0;
            double meanGXhat = 0;
            for (int c = 0; c < cols; c++) {
                double xhat = (x[row + c] - mean[r]) * rstd[r];
                double g = dy[row + c] * gamma[c];
                meanG += g;
                meanGXhat += g * xhat;
            }
            meanG /= cols;
            meanGXhat /= cols;
            for (int c = 0; c < cols; c++) {
                double xhat = (x[row + c] - mean[r]) * rstd[r];
                double g = dy[row + c] * gamma[c];
                dx[row + c] = rstd[r] * (g - meanG - xhat * meanGXhat);
                dGamma[c] += dy[row + c] * xhat;
                dBeta[c] += dy[row + c];
            }
        }
    }
}
