package dev.jbert.kernels.cpu;

import dev.jbert.kernels.AdamW;
import jdk.incubator.vector.FloatVector;

/** AdamW and global-norm clipping over flat parameter and gradient buffers. */
final class OptimizerKernels {
    private final Parallel parallel;
    private final Simd simd;
    private double[] partials = new double[0]; // one sum of squares per range

    OptimizerKernels(Parallel parallel, Simd simd) {
        this.parallel = parallel;
        this.simd = simd;
    }

    /** One fused AdamW step: decay, both moments and the update in a single pass. */
    void adamW(CpuBuffer params, CpuBuffer grads, CpuBuffer m, CpuBuffer v, AdamW settings, int step) {
        float lr = settings.learningRate();
        float beta1 = settings.beta1();
        float beta2 = settings.beta2();
        float eps = settings.epsilon();
        float decay = 1 - lr * settings.weightDecay();
        float stepSize = (float) (lr / (1 - Math.pow(beta1, step)));
        float inverseSqrtCorrection2 = (float) (1 / Math.sqrt(1 - Math.pow(beta2, step)));
        float[] ps = params.floats;
        float[] gs = grads.floats;
        float[] ms = m.floats;
        float[] vs = v.floats;
        parallel.parallelForRanges(params.length(), ElementwiseKernels.GRAIN, (first, last) -> {
            int i = first;
            int bound = first + simd.bound(last - first);
            for (; i < bound; i += Simd.LANES) {
                FloatVector g = FloatVector.fromArray(Simd.FLOATS, gs, grads.offset + i);
                FloatVector mi = FloatVector.fromArray(Simd.FLOATS, ms, m.offset + i).mul(beta1)
                        .add(g.mul(1 - beta1));
                FloatVector vi = FloatVector.fromArray(Simd.FLOATS, vs, v.offset + i).mul(beta2)
                        .add(g.mul(g).mul(1 - beta2));
                FloatVector denominator = vi.sqrt().mul(inverseSqrtCorrection2).add(eps);
                FloatVector p = FloatVector.fromArray(Simd.FLOATS, ps, params.offset + i).mul(decay);
                p.sub(mi.div(denominator).mul(stepSize)).intoArray(ps, params.offset + i);
                mi.intoArray(ms, m.offset + i);
                vi.intoArray(vs, v.offset + i);
            }
            for (; i < last; i++) {
                float g = gs[grads.offset + i];
                float mi = ms[m.offset + i] * beta1 + g * (1 - beta1);
                float vi = vs[v.offset + i] * beta2 + g * g * (1 - beta2);
                float denominator = (float) Math.sqrt(vi) * inverseSqrtCorrection2 + eps;
                ps[params.offset + i] = ps[params.offset + i] * decay - mi / denominator * stepSize;
                ms[m.offset + i] = mi;
                vs[v.offset + i] = vi;
            }
        });
    }

    /**
     * result[0] = sum of x². Each fixed range is summed in float lanes, the ranges' sums are added
     * in double in range order: accurate, and the same for every thread count.
     */
    void sumOfSquares(CpuBuffer x, CpuBuffer result) {
        int grain = ElementwiseKernels.GRAIN;
        int ranges = (x.length() + grain - 1) / grain;
        if (partials.length < ranges) {
            partials = new double[ranges];
        }
        double[] part = partials;
        float[] xs = x.floats;
        parallel.parallelForRanges(x.length(), grain, (first, last) -> {
            FloatVector vsum = FloatVector.zero(Simd.FLOATS);
            int i = first;
            int bound = first + simd.bound(last - first);
            for (; i < bound; i += Simd.LANES) {
                FloatVector value = FloatVector.fromArray(Simd.FLOATS, xs, x.offset + i);
                vsum = value.fma(value, vsum);
            }
            float[] lanes = Simd.lanes();
            vsum.intoArray(lanes, 0);
            double sum = Simd.sum(lanes);
            for (; i < last; i++) {
                sum += (double) xs[x.offset + i] * xs[x.offset + i];
            }
            part[first / grain] = sum;
        });
        double total = 0;
        for (int range = 0; range < ranges; range++) {
            total += part[range];
        }
        result.floats[result.offset] = (float) total;
    }

    /** x *= maxNorm / (norm + 1e-6) when that is below 1, as torch.nn.utils.clip_grad_norm_. */
    void clipByGlobalNorm(CpuBuffer x, CpuBuffer sumOfSquares, float maxNorm) {
        float norm = (float) Math.sqrt(sumOfSquares.floats[sumOfSquares.offset]);
        float factor = maxNorm / (norm + 1e-6f);
        if (!(factor < 1)) {
            return;
        }
        float[] xs = x.floats;
        parallel.parallelForRanges(x.length(), ElementwiseKernels.GRAIN, (first, last) -> {
            int i = first;
            int bound = first + simd.bound(last - first);
            for (; i < bound; i += Simd.LANES) {
                FloatVector.fromArray(Simd.FLOATS, xs, x.offset + i).mul(factor).intoArray(xs, x.offset + i);
            }
            for (; i < last; i++) {
                xs[x.offset + i] *= factor;
            }
        });
    }
}
