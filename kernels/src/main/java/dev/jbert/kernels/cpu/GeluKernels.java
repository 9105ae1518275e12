package dev.jbert.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GELU, erf form: {@code gelu(x) = x Φ(x)} with {@code Φ(x) = (1 + erf(x / √2)) / 2}.
 *
 * <p>Java has no erf, so both paths use Abramowitz and Stegun 7.1.26 (|error| below 1.5e-7, the
 * size of a float's rounding; PyTorch's vectorized CPU erf uses the same formula):
 * {@code erf(z) = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^{-z²}}, {@code t = 1 / (1 + p z)}
 * for z ≥ 0, odd in z. The backward needs {@code φ(x) = e^{-x²/2} / √(2π)}, and {@code e^{-z²}}
 * with {@code z = x/√2} is that same exponential, so it is computed once.
 */
final class GeluKernels {
    private static final float SQRT_HALF = (float) Math.sqrt(0.5);
    private static final float INV_SQRT_2PI = (float) (1 / Math.sqrt(2 * Math.PI));
    private static final float P = 0.3275911f;
    private static final float A1 = 0.254829592f;
    private static final float A2 = -0.284496736f;
    private static final float A3 = 1.421413741f;
    private static final float A4 = -1.453152027f;
    private static final float A5 = 1.061405429f;

    private final Parallel parallel;
    private final Simd simd;
    /** Per thread: Φ(x) of one vector, then e^{-z²} of it (see {@link #phiAndGaussian}). */
    private final ThreadLocal<float[]> scratch = ThreadLocal.withInitial(() -> new float[2 * Simd.LANES]);

    GeluKernels(Parallel parallel, Simd simd) {
        this.parallel = parallel;
        this.simd = simd;
    }

    /** y = x Φ(x). */
    void forward(CpuBuffer x, CpuBuffer y) {
        float[] xs = x.floats;
        float[] ys = y.floats;
        parallel.parallelForRanges(x.length(), ElementwiseKernels.GRAIN, (first, last) -> {
            float[] parts = scratch.get();
            int i = first;
            int bound = first + simd.bound(last - first);
            for (; i < bound; i += Simd.LANES) {
                phiAndGaussian(xs, x.offset + i, parts);
                FloatVector.fromArray(Simd.FLOATS, xs, x.offset + i).mul(FloatVector.fromArray(Simd.FLOATS, parts, 0))
                        .intoArray(ys, y.offset + i);
            }
            for (; i < last; i++) {
                float v = xs[x.offset + i];
                float z = v * SQRT_HALF;
                ys[y.offset + i] = v * cdf(z, (float) Math.exp(-z * z));
            }
        });
    }

    /**
     * dx = dy (Φ(x) + x φ(x)), and, when {@code y} is not null, y = x Φ(x) as {@link #forward}
     * computes it (the model's backward needs the GELU output again, and this reads x and computes
     * Φ once for both). A loop of its own, not the forward's behind a flag: a JIT-compiled loop
     * shared by both directions was deoptimized each time the direction changed. dx may be dy.
     */
    void backward(CpuBuffer x, CpuBuffer dy, CpuBuffer dx, CpuBuffer y) {
        float[] xs = x.floats;
        float[] dys = dy.floats;
        float[] dxs = dx.floats;
        float[] ys = y == null ? null : y.floats;
        parallel.parallelForRanges(x.length(), ElementwiseKernels.GRAIN, (first, last) -> {
            float[] parts = scratch.get();
            int i = first;
            int bound = first + simd.bound(last - first);
            for (; i < bound; i += Simd.LANES) {
                phiAndGaussian(xs, x.offset + i, parts);
                FloatVector phi = FloatVector.fromArray(Simd.FLOATS, parts, 0);
                FloatVector gaussian = FloatVector.fromArray(Simd.FLOATS, parts, Simd.LANES); // √(2π) φ(x)
                FloatVector derivative = FloatVector.fromArray(Simd.FLOATS, xs, x.offset + i).mul(gaussian)
                        .mul(INV_SQRT_2PI).add(phi);
                FloatVector.fromArray(Simd.FLOATS, dys, dy.offset + i).mul(derivative).intoArray(dxs, dx.offset + i);
                if (ys != null) {
                    FloatVector.fromArray(Simd.FLOATS, xs, x.offset + i).mul(phi).intoArray(ys, y.offset + i);
                }
            }
            for (; i < last; i++) {
                float v = xs[x.offset + i];
                float z = v * SQRT_HALF;
                float gaussian = (float) Math.exp(-z * z);
                float phi = cdf(z, gaussian);
                dxs[dx.offset + i] = dys[dy.offset + i] * (phi + v * gaussian * INV_SQRT_2PI);
                if (ys != null) {
                    ys[y.offset + i] = v * phi;
                }
            }
        });
    }

    /**
     * For the vector at {@code xs[at]}: Φ(x) into {@code parts[0 .. LANES)} and e^{-z²}, z = x / √2,
     * into {@code parts[LANES .. 2 LANES)}. Arrays in and out, not vectors: see {@link Simd#exp}.
     */
    private static void phiAndGaussian(float[] xs, int at, float[] parts) {
        FloatVector half = FloatVector.fromArray(Simd.FLOATS, xs, at).mul(SQRT_HALF);
        half.mul(half).neg().intoArray(parts, Simd.LANES);
        Simd.exp(parts, Simd.LANES);
        // z is loaded again rather than kept: no vector may be live across a call (see Simd)
        FloatVector z = FloatVector.fromArray(Simd.FLOATS, xs, at).mul(SQRT_HALF);
        FloatVector gaussian = FloatVector.fromArray(Simd.FLOATS, parts, Simd.LANES);
        FloatVector t = FloatVector.broadcast(Simd.FLOATS, 1f).div(z.abs().fma(P, 1f));
        FloatVector poly = t.fma(A5, A4).fma(t, FloatVector.broadcast(Simd.FLOATS, A3))
                .fma(t, FloatVector.broadcast(Simd.FLOATS, A2)).fma(t, FloatVector.broadcast(Simd.FLOATS, A1));
        FloatVector magnitude = poly.mul(t).mul(gaussian).neg().add(1f);
        FloatVector erf = magnitude.blend(magnitude.neg(), z.compare(VectorOperators.LT, 0f));
        erf.add(1f).mul(0.5f).intoArray(parts, 0);
    }

    /** The scalar twin of the vector Φ: (1 + erf(z)) / 2, given z = x / √2 and {@code gaussian = e^{-z²}}. */
    private static float cdf(float z, float gaussian) {
        float a = Math.abs(z);
        float t = 1 / (1 + P * a);
        float poly = (((A5 * t + A4) * t + A3) * t + A2) * t + A1;
        float magnitude = 1 - poly * t * gaussian;
        return 0.5f * (1 + (z < 0 ? -magnitude : magnitude));
    }
}
