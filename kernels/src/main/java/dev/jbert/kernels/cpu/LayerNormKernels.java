package dev.jbert.kernels.cpu;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * LayerNorm over rows of {@code cols} floats (768 for bert-base).
 *
 * <p>The forward takes two passes over a row (mean, then the variance of the centered values,
 * which is more accurate than E[x²] - E[x]² in float). The backward computes dx row by row, and
 * the parameter gradients as partial sums over fixed blocks of rows that are then added in block
 * order, so the result is the same for every thread count.
 */
final class LayerNormKernels {
    /** Rows per partial sum of dGamma and dBeta. */
    private static final int ROWS_PER_BLOCK = 32;

    private final Parallel parallel;
    private final Simd simd;
    private float[] partials = new float[0]; // [blocks][2][cols]: dGamma then dBeta per block

    LayerNormKernels(Parallel parallel, Simd simd) {
        this.parallel = parallel;
        this.simd = simd;
    }

    /** y [rows, cols] = (x - mean) * rstd * gamma + beta, saving mean [rows] and rstd [rows]. */
    void forward(CpuBuffer x, CpuBuffer gamma, CpuBuffer beta, CpuBuffer y, CpuBuffer mean,
                 CpuBuffer rstd, int rows, int cols, float eps) {
        float[] xs = x.floats;
        float[] ys = y.floats;
        float[] gs = gamma.floats;
        float[] bs = beta.floats;
        int bound = simd.bound(cols);
        parallel.parallelForRanges(rows, ROWS_PER_BLOCK, (first, last) -> {
            float[] lanes = Simd.lanes();
            for (int r = first; r < last; r++) {
                int row = x.offset + r * cols;
                FloatVector vsum = FloatVector.zero(Simd.FLOATS);
                int c = 0;
                for (; c < bound; c += Simd.LANES) {
                    vsum = vsum.add(FloatVector.fromArray(Simd.FLOATS, xs, row + c));
                }
                vsum.intoArray(lanes, 0);
                float sum = Simd.sum(lanes);
                for (; c < cols; c++) {
                    sum += xs[row + c];
                }
                float mu = sum / cols;

                FloatVector vsquares = FloatVector.zero(Simd.FLOATS);
                for (c = 0; c < bound; c += Simd.LANES) {
                    FloatVector centered = FloatVector.fromArray(Simd.FLOATS, xs, row + c).sub(mu);
                    vsquares = centered.fma(centered, vsquares);
                }
                vsquares.intoArray(lanes, 0);
                float squares = Simd.sum(lanes);
                for (; c < cols; c++) {
                    float centered = xs[row + c] - mu;
                    squares += centered * centered;
                }
                float s = (float) (1 / Math.sqrt(squares / cols + eps));

                int out = y.offset + r * cols;
                for (c = 0; c < bound; c += Simd.LANES) {
                    FloatVector xhat = FloatVector.fromArray(Simd.FLOATS, xs, row + c).sub(mu).mul(s);
                    xhat.fma(FloatVector.fromArray(Simd.FLOATS, gs, gamma.offset + c),
                                    FloatVector.fromArray(Simd.FLOATS, bs, beta.offset + c))
                            .intoArray(ys, out + c);
                }
                for (; c < cols; c++) {
                    ys[out + c] = (xs[row + c] - mu) * s * gs[gamma.offset + c] + bs[beta.offset + c];
                }
                mean.floats[mean.offset + r] = mu;
                rstd.floats[rstd.offset + r] = s;
            }
        });
    }

    /** dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy gamma; dGamma, dBeta accumulate. */
    void backward(CpuBuffer dy, CpuBuffer x, CpuBuffer gamma, CpuBuffer mean, CpuBuffer rstd,
                  CpuBuffer dx, CpuBuffer dGamma, CpuBuffer dBeta, int rows, int cols) {
        int blocks = (rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
        if (partials.length < blocks * 2 * cols) {
            partials = new float[blocks * 2 * cols];
        }
        float[] part = partials;
        float[] dys = dy.floats;
        float[] xs = x.floats;
        float[] gs = gamma.floats;
        float[] dxs = dx.floats;
        int bound = simd.bound(cols);
        parallel.parallelFor(blocks, block -> {
            int partGamma = block * 2 * cols;
            int partBeta = partGamma + cols;
            Arrays.fill(part, partGamma, partGamma + 2 * cols, 0f);
            float[] lanes = Simd.lanes();
            int last = Math.min(rows, (block + 1) * ROWS_PER_BLOCK);
            for (int r = block * ROWS_PER_BLOCK; r < last; r++) {
                int row = r * cols;
                float mu = mean.floats[mean.offset + r];
                float s = rstd.floats[rstd.offset + r];
                // pass 1: the two row means
                FloatVector vg = FloatVector.zero(Simd.FLOATS);
                FloatVector vgx = FloatVector.zero(Simd.FLOATS);
                int c = 0;
                for (; c < bound; c += Simd.LANES) {
                    FloatVector xhat = FloatVector.fromArray(Simd.FLOATS, xs, x.offset + row + c).sub(mu).mul(s);
                    FloatVector g = FloatVector.fromArray(Simd.FLOATS, dys, dy.offset + row + c)
                            .mul(FloatVector.fromArray(Simd.FLOATS, gs, gamma.offset + c));
                    vg = vg.add(g);
                    vgx = g.fma(xhat, vgx);
                }
                vg.intoArray(lanes, 0);
                vgx.intoArray(lanes, Simd.LANES);  // stored before either call: see Simd
                float sumG = Simd.sum(lanes, 0);
                float sumGX = Simd.sum(lanes, Simd.LANES);
                for (; c < cols; c++) {
                    float xhat = (xs[x.offset + row + c] - mu) * s;
                    float g = dys[dy.offset + row + c] * gs[gamma.offset + c];
                    sumG += g;
                    sumGX += g * xhat;
                }
                float meanG = sumG / cols;
                float meanGX = sumGX / cols;
                // pass 2: dx, and this block's share of dGamma and dBeta
                for (c = 0; c < bound; c += Simd.LANES) {
                    FloatVector xhat = FloatVector.fromArray(Simd.FLOATS, xs, x.offset + row + c).sub(mu).mul(s);
                    FloatVector d = FloatVector.fromArray(Simd.FLOATS, dys, dy.offset + row + c);
                    FloatVector g = d.mul(FloatVector.fromArray(Simd.FLOATS, gs, gamma.offset + c));
                    g.sub(meanG).sub(xhat.mul(meanGX)).mul(s).intoArray(dxs, dx.offset + row + c);
                    d.fma(xhat, FloatVector.fromArray(Simd.FLOATS, part, partGamma + c)).intoArray(part, partGamma + c);
                    d.add(FloatVector.fromArray(Simd.FLOATS, part, partBeta + c)).intoArray(part, partBeta + c);
                }
                for (; c < cols; c++) {
                    float xhat = (xs[x.offset + row + c] - mu) * s;
                    float d = dys[dy.offset + row + c];
                    float g = d * gs[gamma.offset + c];
                    dxs[dx.offset + row + c] = s * (g - meanG - xhat * meanGX);
                    part[partGamma + c] += d * xhat;
                    part[partBeta + c] += d;
                }
            }
        });
        // add the blocks' partial sums in block order: column ranges in parallel
        parallel.parallelForRanges(cols, 4 * Simd.LANES, (first, last) -> {
            for (int c = first; c < last; c++) {
                float sumGamma = 0;
                float sumBeta = 0;
                for (int block = 0; block < blocks; block++) {
                    sumGamma += part[block * 2 * cols + c];
                    sumBeta += part[block * 2 * cols + cols + c];
                }
                dGamma.floats[dGamma.offset + c] += sumGamma;
                dBeta.floats[dBeta.offset + c] += sumBeta;
            }
        });
    }
}
