package dev.jbert.kernels.reference;

/**
 * GELU in the exact form BERT was trained with: {@code gelu(x) = x * Φ(x)}, where
 * {@code Φ(x) = (1 + erf(x / sqrt 2)) / 2} is the standard normal CDF (not the tanh approximation).
 */
public final class ReferenceGelu {
    private static final double SQRT_HALF = Math.sqrt(0.5);
    private static final double INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

    private ReferenceGelu() {}

    /** y = x * Φ(x). */
    public static void geluForward(double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i] * 0.5 * (1 + erf(x[i] * SQRT_HALF));
        }
    }

    /** dx = dy * (Φ(x) + x φ(x)), with φ the standard normal density. */
    public static void geluBackward(double[] x, double[] dy, double[] dx) {
        for (int i = 0; i < x.length; i++) {
            double cdf = 0.5 * (1 + erf(x[i] * SQRT_HALF));
            double pdf = INV_SQRT_2PI * Math.exp(-0.5 * x[i] * x[i]);
            dx[i] = dy[i] * (cdf + x[i] * pdf);
        }
    }

    /**
     * erf to double precision. Java has none, so: the series
     * {@code erf(x) = 2/sqrt(pi) e^{-x^2} sum_n (2x^2)^n x / (1*3*5*...*(2n+1))}, whose terms are all
     * positive (no cancellation); beyond |x| = 6, erf is ±1 in double.
     */
    public static double erf(double x) {
        double ax = Math.abs(x);
        if (ax >= 6) {
            return Math.signum(x);
        }
        double term = ax;
        double sum = ax;
        for (int n = 1; term > 1e-17 * sum; n++) {
            term *= 2 * ax * ax / (2 * n + 1);
            sum += term;
        }
        return Math.copySign(2 / Math.sqrt(Math.PI) * Math.exp(-ax * ax) * sum, x);
    }
}
