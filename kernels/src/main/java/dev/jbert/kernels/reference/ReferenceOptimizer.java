package dev.jbert.kernels.reference;

/** AdamW and gradient clipping by global norm, in PyTorch's order of operations. */
public final class ReferenceOptimizer {
    private ReferenceOptimizer() {}

    /** One AdamW step over params, with m and v its running moments; step counts from 1. */
    public static void adamW(double[] params, double[] grads, double[] m, double[] v,
                             double learningRate, double beta1, double beta2, double epsilon,
                             double weightDecay, int step) {
        double biasCorrection1 = 1 - Math.pow(beta1, step);
        double biasCorrection2 = 1 - Math.pow(beta2, step);
        double stepSize = learningRate / biasCorrection1;
        for (int i = 0; i < params.length; i++) {
            params[i] *= 1 - learningRate * weightDecay; // decoupled weight decay
            m[i] = beta1 * m[i] + (1 - beta1) * grads[i];
            v[i] = beta2 * v[i] + (1 - beta2) * grads[i] * grads[i];
            double denominator = Math.sqrt(v[i]) / Math.sqrt(biasCorrection2) + epsilon;
            params[i] -= stepSize * m[i] / denominator;
        }
    }

    /** The sum of squares of x. */
    public static double sumOfSquares(double[] x) {
        double sum = 0;
        for (double value : x) {
            sum += value * value;
        }
        return sum;
    }

    /** x *= maxNorm / (norm + 1e-6) when that factor is below 1, with norm = sqrt(sumOfSquares). */
    public static void clipByGlobalNorm(double[] x, double sumOfSquares, double maxNorm) {
        double factor = maxNorm / (Math.sqrt(sumOfSquares) + 1e-6);
        if (factor < 1) {
            for (int i = 0; i < x.length; i++) {
                x[i] *= factor;
            }
        }
    }
}
