package dev.jbert.kernels.cpu;

import static dev.jbert.kernels.cpu.GemmKernel.MR;
import static dev.jbert.kernels.cpu.GemmKernel.NR;
import static dev.jbert.kernels.cpu.GemmKernel.LANES;
import static dev.jbert.kernels.cpu.GemmKernel.SPECIES;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

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
    /** A gather's row offsets (one per lane), per thread: filled per sliver, never allocated in a step. */
    private static final ThreadLocal<int[]> GATHER_ROWS = ThreadLocal.withInitial(() -> new int[LANES]);

    private GemmPacking() {}

    /**
     * Slivers [firstSliver, endSliver) of the {@code size} rows of op(A) (m x k) from the one at
     * {@code a[at]} on, for columns [p0, p0+kc), sliver s at {@code s * MR * kc} of {@code dst}. A is
     * stored [m][k] (row i at {@code at + i * k}), or [k][m] when transA (row i at {@code at + i}).
     * Threads share the packing of a whole panel (all m rows) by taking ranges of slivers; a transposed
     * A's panel is read step by step, each step's row end to end (block by block, the copy read
     * 192-float runs of rows m floats apart, at 2.3 ns a float).
     */
    static void packA(boolean transA, float[] a, int at, int m, int k, int size, int p0, int kc,
                      int firstSliver, int endSliver, float[] dst) {
        int first = firstSliver * MR, end = Math.min(size, endSliver * MR);
        if (transA) {
            alongRows(a, at, m, p0, kc, first, end, size, MR, dst);
        } else {
            acrossRows(a, at, k, p0, kc, first, end, size, MR, dst);
        }
    }

    /**
     * Slivers [firstSliver, endSliver) of rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) (k x n)
     * into {@code dst}; packing is split by slivers so that threads can share it. B is stored [k][n],
     * or [n][k] when transB.
     */
    static void packB(boolean transB, float[] b, int bOffset, int n, int k,
                      int p0, int kc, int j0, int nc, int firstSliver, int endSliver, float[] dst) {
        int first = firstSliver * NR, end = Math.min(nc, endSliver * NR);
        if (transB) {
            acrossRows(b, bOffset + j0 * k, k, p0, kc, first, end, nc, NR, dst);
        } else {
            alongRows(b, bOffset + j0, n, p0, kc, first, end, nc, NR, dst);
        }
    }

    /**
     * Packs positions [first, end) of a block (of {@code size}) into slivers of {@code width}, for
     * steps p0 .. p0+kc, when the source holds each step as a row: step p of position j is
     * {@code src[at + p * ld + j]} (a transposed A, a plain B). Each row's run is read at once, width
     * floats to each sliver. (Sliver by sliver, the reads would stride through kc rows ld floats
     * apart, which map to a few L1 sets and evict each other before the next sliver's turn: the TN
     * weight-gradient GEMMs ran 13-32% slower that way.)
     */
    private static void alongRows(float[] src, int at, int ld, int p0, int kc, int first, int end, int size,
                                  int width, float[] dst) {
        for (int p = 0; p < kc; p++) {
            int row = at + (p0 + p) * ld;
            for (int s = first; s < end; s += width) {
                copyPadded(src, row + s, Math.min(width, size - s), dst, s * kc + p * width, width);
            }
        }
    }

    /**
     * The same when the source holds each position as a row, step p of position j at
     * {@code src[at + j * ld + p]} (a plain A, a transposed B): a transposing copy. Each step of a
     * vector's worth of positions is one gather, rows ld apart, and one store; positions past the
     * block's edge are masked off (their index points at a row inside it) and stored as zeros.
     * Measured on a 3072 x 256 panel: 0.33 ns a float, against 0.6 for a scalar copy.
     */
    private static void acrossRows(float[] src, int at, int ld, int p0, int kc, int first, int end, int size,
                                   int width, float[] dst) {
        int[] rows = GATHER_ROWS.get();
        for (int s = first; s < end; s += width) {
            int count = Math.min(width, size - s), d = s * kc;
            for (int j = 0; j < width; j += LANES) {
                for (int lane = 0; lane < LANES; lane++) {
                    rows[lane] = j + lane < count ? lane * ld : 0;
                }
                VectorMask<Float> valid = SPECIES.indexInRange(j, count), inSliver = SPECIES.indexInRange(j, width);
                int row = at + (s + j) * ld + p0;
                for (int p = 0; p < kc; p++) {
                    // a vector wholly past the edge has no row to gather from (its base would be outside)
                    FloatVector step = j < count ? FloatVector.fromArray(SPECIES, src, row + p, rows, 0, valid)
                            : FloatVector.zero(SPECIES);
                    step.intoArray(dst, d + p * width + j, inSliver);
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
        for (int j = 0; j < width; j += LANES) {
            FloatVector.fromArray(SPECIES, src, from + j, SPECIES.indexInRange(j, count))
                    .intoArray(dst, at + j, SPECIES.indexInRange(j, width));
        }
    }
}
