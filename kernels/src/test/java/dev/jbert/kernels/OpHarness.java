package dev.jbert.kernels;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;

/**
 * What every op test needs: random inputs, moving them to and from a backend, and one comparison
 * with an explicit tolerance.
 *
 * <p>Inputs are drawn as floats and widened to double, so the backend (in float) and the
 * reference (in double) start from exactly the same numbers; the only difference left is the
 * backend's arithmetic. They are Gaussian, so never all zeros, and sizes in the tests are odd on
 * purpose: not multiples of the vector width or the block sizes.
 */
public final class OpHarness {
    private final Backend backend;
    private final SplittableRandom random;

    public OpHarness(Backend backend, long seed) {
        this.backend = backend;
        this.random = new SplittableRandom(seed);
    }

    public Backend backend() {
        return backend;
    }

    /** {@code n} Gaussian values times {@code scale}, each exactly a float. */
    public double[] gaussian(int n, double scale) {
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) (random.nextGaussian() * scale);
        }
        return values;
    }

    /** {@code n} ints in {@code [0, bound)}. */
    public int[] ints(int n, int bound) {
        int[] values = new int[n];
        for (int i = 0; i < n; i++) {
            values[i] = random.nextInt(bound);
        }
        return values;
    }

    /** A new backend buffer holding {@code values} as floats. */
    public Buffer upload(double[] values) {
        Buffer buffer = backend.allocateFloats(values.length);
        backend.copyIn(toFloats(values), buffer);
        return buffer;
    }

    public Buffer upload(int[] values) {
        Buffer buffer = backend.allocateInts(values.length);
        backend.copyIn(values, buffer);
        return buffer;
    }

    public float[] download(Buffer buffer) {
        float[] values = new float[buffer.length()];
        backend.copyOut(buffer, values);
        return values;
    }

    public static float[] toFloats(double[] values) {
        float[] floats = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            floats[i] = (float) values[i];
        }
        return floats;
    }

    /**
     * Fails unless every element satisfies {@code |actual - expected| <= atol + rtol |expected|},
     * naming the first one that does not and the largest error.
     */
    public void assertClose(String what, double[] expected, Buffer actual, double atol, double rtol) {
        assertClose(what, expected, download(actual), atol, rtol);
    }

    public static void assertClose(String what, double[] expected, float[] actual, double atol, double rtol) {
        if (expected.length != actual.length) {
            fail(what + ": " + actual.length + " elements, expected " + expected.length);
        }
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < expected.length; i++) {
            double error = Math.abs(actual[i] - expected[i]);
            double allowed = atol + rtol * Math.abs(expected[i]);
            double excess = Double.isNaN(actual[i]) ? Double.POSITIVE_INFINITY : error / allowed;
            if (excess > 1 && excess > worstExcess) {
                worst = i;
                worstExcess = excess;
            }
        }
        if (worst >= 0) {
            fail(String.format("%s: element %d is %s, expected %s (error %.3g, allowed %.3g + %.3g relative)",
                    what, worst, actual[worst], expected[worst], Math.abs(actual[worst] - expected[worst]), atol, rtol));
        }
    }
}
