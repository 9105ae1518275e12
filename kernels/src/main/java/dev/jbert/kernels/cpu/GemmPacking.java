package dev.jbert.kernels.cpu;

import static dev.jbert.kernels.cpu.GemmKernel.MR;
import static dev.jbert.kernels.cpu.GemmKernel.NR;

import jdk.incubator.vector.FloatVector;

/**
 * Copies blocks of op(A) and op(B) into the order the microkernel reads them, so it streams through
 * contiguous memory whatever the operands' layout. The transposes are handled here, which is why one
 * microkernel serves all four transpose combinations.
 *
 * <pre>
 *   packed A block (mc x kc): slivers of MR rows;    sliver s holds  a[p][r] at s*MR*kc + p*MR + r
 *   packed B block (kc x nc): slivers of NR columns; sliver s holds  b[p][j] at s*NR*kc + p*NR + j
 * </pre>
 * A last, partial sliver is padded with zeros, so the microkernel always computes whole tiles.
 */
final class GemmPacking {
    private GemmPacking() {}

    /**
     * Rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) (m x k) into {@code dst}. A is stored [m][k],
     * or [k][m] when transA.
     */
    static void packA(boolean transA, float[] a, int aOffset, int m, int k,
                      int i0, int mc, int p0, int kc, float[] dst) {
        if (transA) {
            // a row of stored A is contiguous along m: read the block's mc floats of it at once, MR
            // to each sliver. (Sliver by sliver, the reads would stride through kc rows m floats
            // apart, which map to a few L1 sets and evict each other before the next sliver's turn.)
            for (int p = 0; p < kc; p++) {
                int src = aOffset + (p0 + p) * m + i0;
                for (int s = 0; s < mc; s += MR) {
                    copyPadded(a, src + s, Math.min(MR, mc - s), dst, s * kc + p * MR, MR);
                }
            }
            return;
        }
        for (int s = 0; s < mc; s += MR) {
            int rows = Math.min(MR, mc - s), d = s * kc;
            for (int r = 0; r < MR; r++) {
                if (r < rows) {
                    int src = aOffset + (i0 + s + r) * k + p0;
                    for (int p = 0; p < kc; p++) {
                        dst[d + p * MR + r] = a[src + p];
                    }
                } else {
                    for (int p = 0; p < kc; p++) {
                        dst[d + p * MR + r] = 0f;
                    }
                }
            }
        }
    }

    /**
     * Slivers [firstSliver, endSliver) of rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) (k x n)
     * into {@code dst}; packing is split by slivers so that threads can share it. B is stored [k][n],
     * or [n][k] when transB.
     */
    static void packB(boolean transB, float[] b, int bOffset, int n, int k,
                      int p0, int kc, int j0, int nc, int firstSliver, int endSliver, float[] dst) {
        int end = Math.min(nc, endSliver * NR);
        if (!transB) {
            // a row of stored B is contiguous along n: read this range of it at once, NR to each
            // sliver (for the same reason as in packA)
            for (int p = 0; p < kc; p++) {
                int src = bOffset + (p0 + p) * n + j0;
                for (int s = firstSliver * NR; s < end; s += NR) {
                    copyPadded(b, src + s, Math.min(NR, nc - s), dst, s * kc + p * NR, NR);
                }
            }
            return;
        }
        for (int s = firstSliver * NR; s < end; s += NR) {
            int cols = Math.min(NR, nc - s), d = s * kc;
            for (int j = 0; j < NR; j++) {
                if (j < cols) {
                    int src = bOffset + (j0 + s + j) * k + p0;
                    for (int p = 0; p < kc; p++) {
                        dst[d + p * NR + j] = b[src + p];
                    }
                } else {
                    for (int p = 0; p < kc; p++) {
                        dst[d + p * NR + j] = 0f;
                    }
                }
            }
        }
    }

    /**
     * dst[at .. at+width) = src[from .. from+count) followed by zeros, count <= width: one masked
     * vector load and store per vector of the run (12 or 32 floats), the padding included. (As fast
     * as System.arraycopy plus a zeroing loop, measured: packing costs its memory traffic, not its
     * calls.) Data movement only, so it is the same with SIMD off.
     */
    private static void copyPadded(float[] src, int from, int count, float[] dst, int at, int width) {
        for (int j = 0; j < width; j += GemmKernel.LANES) {
            FloatVector.fromArray(GemmKernel.SPECIES, src, from + j, GemmKernel.SPECIES.indexInRange(j, count))
                    .intoArray(dst, at + j, GemmKernel.SPECIES.indexInRange(j, width));
        }
    }
}
