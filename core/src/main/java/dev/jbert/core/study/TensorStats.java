package dev.jbert.core.study;

/**
 * What one glance at a tensor shows: the mean and standard deviation of its values (population
 * std, computed in double), its extremes, and the fraction that is exactly zero (padding, ReLU-like
 * sparsity, or the rows of an embedding table no token used).
 */
public record TensorStats(int count, double mean, double std, float min, float max, double zeroFraction) {

    /** The statistics of every value; an empty array has NaN mean and std. */
    public static TensorStats of(float[] values) {
        double sum = 0;
        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
        int zeros = 0;
        for (float v : values) {
            sum += v;
            min = Math.min(min, v);
            max = Math.max(max, v);
            if (v == 0) zeros++;
        }
        double mean = sum / values.length;
        double squares = 0;   // a second pass: sum((v - mean)^2) loses nothing to cancellation
        for (float v : values) {
            squares += (v - mean) * (v - mean);
        }
        return new TensorStats(values.length, mean, Math.sqrt(squares / values.length), min, max,
                values.length == 0 ? Double.NaN : (double) zeros / values.length);
    }
}
