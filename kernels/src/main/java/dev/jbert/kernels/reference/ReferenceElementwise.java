package dev.jbert.kernels.reference;

import dev.jbert.kernels.Philox;

/** Bias, residual add, subtraction, axis swap and dropout: the ops that move or scale numbers one at a time. */
public final class ReferenceElementwise {
    private ReferenceElementwise() {}

    /** x [rows, cols] += bias [cols] broadcast over rows. */
    public static void addBias(double[] x, double[] bias, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                x[r * cols + c] += bias[c];
            }
        }
    }

    /** dBias [cols] += column sums of dy [rows, cols]. */
    public static void biasBackward(double[] dy, double[] dBias, int rows, int cols) {
        for (int c = 0; c < cols; c++) {
            double sum = 0;
            for (int r = 0; r < rows; r++) {
                sum += dy[r * cols + c];
            }
            dBias[c] += sum;
        }
    }

    /** out = a + b. */
    public static void add(double[] a, double[] b, double[] out) {
        for (int i = 0; i < out.length; i++) {
            out[i] = a[i] + b[i];
        }
    }

    /** out = a - b. */
    public static void subtract(double[] a, double[] b, double[] out) {
        for (int i = 0; i < out.length; i++) {
            out[i] = a[i] - b[i];
        }
    }

    /** y [d0, d2, d1, d3] = x [d0, d1, d2, d3] with the middle axes swapped. */
    public static void swapMiddleAxes(double[] x, double[] y, int d0, int d1, int d2, int d3) {
        for (int a = 0; a < d0; a++) {
            for (int b = 0; b < d1; b++) {
                for (int c = 0; c < d2; c++) {
                    for (int d = 0; d < d3; d++) {
                        y[((a * d2 + c) * d1 + b) * d3 + d] = x[((a * d1 + b) * d2 + c) * d3 + d];
                    }
                }
            }
        }
    }

    /** Inverted dropout with the Philox mask: kept elements are scaled by 1 / (1 - p). */
    public static void dropout(double[] x, double[] y, double p, long seed, long stream) {
        for (int i = 0; i < x.length; i++) {
            boolean keep = Philox.keep(seed, stream, i, (float) p);
            y[i] = keep ? x[i] / (1 - p) : 0;
        }
    }
}
