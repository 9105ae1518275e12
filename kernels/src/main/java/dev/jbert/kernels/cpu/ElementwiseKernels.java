package dev.jbert.kernels.cpu;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/** Bias, residual add, subtraction and axis swap: one pass over memory each. */
final class ElementwiseKernels {
    /** Elements per parallel task: big enough to amortize the hand-off, small enough to balance. */
    static final int GRAIN = 1 << 14;

    /** Rows per task of {@link #biasBackward}. */
    private static final int BIAS_ROWS = 128;

    private final Parallel parallel;
    private final Simd simd;
    /** biasBackward's partial sums, one row per block of BIAS_ROWS: grown to the largest needed. */
    private float[] biasPartials = new float[0];

    ElementwiseKernels(Parallel parallel, Simd simd) {
        this.parallel = parallel;
        this.simd = simd;
    }

    /** x [rows, cols] += bias [cols]. */
    void addBias(CpuBuffer x, CpuBuffer bias, int rows, int cols) {
        float[] xs = x.floats;
        float[] bs = bias.floats;
        int rowsPerTask = Math.max(1, GRAIN / Math.max(1, cols));
        parallel.parallelForRanges(rows, rowsPerTask, (first, last) -> {
            for (int r = first; r < last; r++) {
                simd.addInto(bs, bias.offset, xs, x.offset + r * cols, cols);
            }
        });
    }

    /**
     * dBias [cols] += column sums of dy [rows, cols]. Each task sums a block of BIAS_ROWS rows into
     * a partial row of its own, reading its rows front to back; the partials are then added in
     * block order. The blocks depend on BIAS_ROWS alone, so the result does not depend on the
     * thread count. (Tasks that each summed a few columns down all the rows read 64 bytes per row,
     * a row apart, a stride the prefetchers do not follow: 0.125 s of a bert-base step.)
     */
    void biasBackward(CpuBuffer dy, CpuBuffer dBias, int rows, int cols) {
        float[] ds = dy.floats;
        float[] out = dBias.floats;
        int blocks = Math.ceilDiv(rows, BIAS_ROWS);
        if (biasPartials.length < blocks * cols) {
            biasPartials = new float[blocks * cols];
        }
        float[] partials = biasPartials;
        parallel.parallelForRanges(rows, BIAS_ROWS, (first, last) -> {
            int at = first / BIAS_ROWS * cols;
            Arrays.fill(partials, at, at + cols, 0f);
            for (int r = first; r < last; r++) {
                simd.addInto(ds, dy.offset + r * cols, partials, at, cols);
            }
        });
        for (int c = 0; c < cols; c++) {
            float sum = 0;
            for (int block = 0; block < blocks; block++) {
                sum += partials[block * cols + c];
            }
            out[dBias.offset + c] += sum;
        }
    }

    /** out = a + b. */
    void add(CpuBuffer a, CpuBuffer b, CpuBuffer out) {
        float[] as = a.floats;
        float[] bs = b.floats;
        float[] os = out.floats;
        parallel.parallelForRanges(out.length(), GRAIN, (first, last) -> {
            int i = first;
            int bound = first + simd.bound(last - first);
            for (; i < bound; i += Simd.LANES) {
                FloatVector.fromArray(Simd.FLOATS, as, a.offset + i)
                        .add(FloatVector.fromArray(Simd.FLOATS, bs, b.offset + i))
                        .intoArray(os, out.offset + i);
            }
            for (; i < last; i++) {
                os[out.offset + i] = as[a.offset + i] + bs[b.offset + i];
            }
        });
    }

    /** out = a - b (not folded into add with an operator argument: a non-constant op would not vectorize). */
    void subtract(CpuBuffer a, CpuBuffer b, CpuBuffer out) {
        float[] as = a.floats;
        float[] bs = b.floats;
        float[] os = out.floats;
        parallel.parallelForRanges(out.length(), GRAIN, (first, last) -> {
            int i = first;
            int bound = first + simd.bound(last - first);
            for (; i < bound; i += Simd.LANES) {
                FloatVector.fromArray(Simd.FLOATS, as, a.offset + i)
                        .sub(FloatVector.fromArray(Simd.FLOATS, bs, b.offset + i))
                        .intoArray(os, out.offset + i);
            }
            for (; i < last; i++) {
                os[out.offset + i] = as[a.offset + i] - bs[b.offset + i];
            }
        });
    }

    /** y [d0, d2, d1, d3] = x [d0, d1, d2, d3]: rows of d3 contiguous floats are moved whole. */
    void swapMiddleAxes(CpuBuffer x, CpuBuffer y, int d0, int d1, int d2, int d3) {
        int rowsPerTask = Math.max(1, GRAIN / Math.max(1, d2 * d3));
        parallel.parallelForRanges(d0 * d1, rowsPerTask, (first, last) -> {
            for (int ab = first; ab < last; ab++) {
                int a = ab / d1;
                int b = ab % d1;
                for (int c = 0; c < d2; c++) {
                    System.arraycopy(x.floats, x.offset + (ab * d2 + c) * d3,
                            y.floats, y.offset + ((a * d2 + c) * d1 + b) * d3, d3);
                }
            }
        });
    }
}
