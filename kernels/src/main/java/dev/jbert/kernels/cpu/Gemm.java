package dev.jbert.kernels.cpu;

import static dev.jbert.kernels.cpu.GemmKernel.MR;
import static dev.jbert.kernels.cpu.GemmKernel.NR;

import java.util.Arrays;

/**
 * Single-precision GEMM, {@code C = alpha * op(A) op(B) + beta * C}, cache-blocked the Goto/BLIS way:
 *
 * <pre>
 *   for j0 in n by NC:                      B block (kc x nc) is packed once and shared by all threads
 *     for p0 in k by KC:                    beta applies on the first k block, later ones add to C
 *       pack op(B)[p0:p0+kc][j0:j0+nc]
 *       (a transposed A shared by many B slivers: pack op(A)[:][p0:p0+kc] whole, as one shared panel)
 *       parallel for i0 in m by MC:         each thread packs its own A block (mc x kc), kept in L2
 *         pack op(A)[i0:i0+mc][p0:p0+kc]    (or take it from the panel, or read a transposed A in place)
 *         for each NR-column sliver of B:   sliver (kc x NR) stays in L1
 *           for each MR-row sliver of A:    microkernel: one MR x NR tile of C in registers
 * </pre>
 *
 * Operands are row-major and densely packed: op(A) is m x k, A is stored [m][k], or [k][m] when
 * transA; op(B) is k x n, B is stored [k][n], or [n][k] when transB; C is [m][n]. As in BLAS, C is
 * not read when beta == 0 (so NaNs there do not leak), and k == 0 or alpha == 0 means C = beta * C.
 *
 * <p>Every element of C is summed over k in the same order (k blocks in order, FMAs in order within
 * one), whichever thread computes it, so results are bitwise identical for every thread count, and
 * with SIMD on and off.
 *
 * <p>Packing buffers are per thread and allocated once. One instance serves one caller at a time.
 */
public final class Gemm {
    /**
     * Rows of op(A) per packed block: 16 slivers of MR. The block (MC x KC floats, 192 KiB) sits in
     * L2, and each B sliver brought into L1 serves all 16 of them.
     */
    static final int MC = 16 * MR;
    /**
     * Depth of a packed block; k is split into equal blocks of at most KC. A B sliver (KC x NR, 32 KiB)
     * and an A sliver (KC x MR, 12 KiB) share the 48 KiB L1. Measured on the microkernel alone: 192
     * and 256 run alike, 128 is ~10% slower (the tile's write-back is amortized over fewer FMAs).
     */
    static final int KC = 256;
    /** Columns of op(B) per packed block: the whole width of every bert-base GEMM (3072 at 16 lanes). */
    static final int NC = 96 * NR;
    /**
     * A transposed A is read in place, unpacked, when at most this many B slivers use each A block.
     * In place, each pass over a sliver strides through kc rows m floats apart, which can map them
     * to few L1 sets; packed, it is contiguous. Measured (2 threads, best calls, old and new code
     * alternating): in place, attention's dV (96 of 384 x 64 x 384, 2 slivers) ran 134-146 GFLOP/s
     * against 77-92 packed, and the weight gradients (24-96 slivers) 0-20% slower, so they stay packed.
     */
    static final int IN_PLACE_SLIVERS = 4;
    /** Batched GEMMs run one matrix per task when there are at least this many per thread. */
    private static final int BATCH_PER_THREAD = 2;

    private final Parallel parallel;
    private final boolean simd;
    private final ThreadLocal<Workspace> workspaces = ThreadLocal.withInitial(Workspace::new);

    /** One thread's packing buffers and the spill tile for partial tiles. */
    private static final class Workspace {
        final float[] packedA = new float[MC * KC];
        final float[] packedB = new float[KC * NC];
        final float[] tile = new float[MR * NR];
        /** A transposed A's whole panel (kc x m, see GemmPacking.packTransposedA): grown to the largest m. */
        float[] panelA = new float[0];
    }

    /** {@code simd == false} keeps the blocking and packing but uses the scalar microkernel. */
    public Gemm(Parallel parallel, boolean simd) {
        this.parallel = parallel;
        this.simd = simd;
    }

    /** C[m][n] = alpha * op(A)[m][k] op(B)[k][n] + beta * C; see the class comment for layouts. */
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     float[] a, int aOffset, float[] b, int bOffset, float beta, float[] c, int cOffset) {
        gemm(transA, transB, m, n, k, alpha, a, aOffset, b, bOffset, beta, c, cOffset, parallel.threads());
    }

    /** The same, its work split for {@code threads} threads (1 inside a parallelFor body). */
    private void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                      float[] a, int aOffset, float[] b, int bOffset, float beta, float[] c, int cOffset, int threads) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("negative GEMM size " + m + " x " + n + " x " + k);
        }
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0 || alpha == 0) {
            scale(c, cOffset, m * n, beta);
            return;
        }
        multiply(transA, transB, m, n, k, alpha, a, aOffset, b, bOffset, beta, c, cOffset, threads);
    }

    /**
     * {@code batch} independent GEMMs of the same shape; matrix i of A starts at
     * {@code aOffset + i * strideA}, and likewise for B and C. Many small matrices (attention's
     * 96 of 384 x 384 x 64) run one per task; a few large ones are each split over the threads.
     */
    public void gemmBatched(boolean transA, boolean transB, int m, int n, int k, float alpha,
                            float[] a, int aOffset, int strideA, float[] b, int bOffset, int strideB,
                            float beta, float[] c, int cOffset, int strideC, int batch) {
        if (batch >= BATCH_PER_THREAD * parallel.threads()) {
            // each matrix on one thread, with that thread's buffers: planned for one thread, so that
            // no block of A is packed twice for column chunks that would run one after the other anyway
            parallel.parallelFor(batch, i -> gemm(transA, transB, m, n, k, alpha, a, aOffset + i * strideA,
                    b, bOffset + i * strideB, beta, c, cOffset + i * strideC, 1));
        } else {
            for (int i = 0; i < batch; i++) {
                gemm(transA, transB, m, n, k, alpha, a, aOffset + i * strideA,
                        b, bOffset + i * strideB, beta, c, cOffset + i * strideC);
            }
        }
    }

    /** The blocked product for m, n, k > 0 and alpha != 0, its work split for {@code threads} threads. */
    private void multiply(boolean transA, boolean transB, int m, int n, int k, float alpha,
                          float[] a, int aOffset, float[] b, int bOffset, float beta, float[] c, int cOffset, int threads) {
        Workspace caller = workspaces.get();
        float[] packedB = caller.packedB;  // the caller's, shared with the other threads
        int kBlocks = Math.ceilDiv(k, KC), kcStep = Math.ceilDiv(k, kBlocks);
        int mBlocks = Math.ceilDiv(m, MC), mSlivers = Math.ceilDiv(m, MR);
        for (int j0 = 0; j0 < n; j0 += NC) {
            int nc = Math.min(NC, n - j0), slivers = Math.ceilDiv(nc, NR), jc = j0;
            // too few row blocks to keep every thread busy (m small, n large): split the columns too,
            // at the price of packing each A block once per chunk (never worth it on one thread)
            int nChunks = threads == 1 || mBlocks >= 2 * threads ? 1 : Math.min(slivers, Math.ceilDiv(2 * threads, mBlocks));
            int packChunks = Math.min(slivers, threads), panelChunks = Math.min(mSlivers, threads);
            // a transposed A that many B slivers share is packed whole, as one panel; with few, each
            // block is read in place (see IN_PLACE_SLIVERS), or packed on its own if it ends in a partial sliver
            boolean panel = transA && Math.ceilDiv(slivers, nChunks) > IN_PLACE_SLIVERS;
            if (panel && caller.panelA.length < mSlivers * MR * kcStep) {
                caller.panelA = new float[mSlivers * MR * kcStep];
            }
            float[] panelA = caller.panelA;
            for (int p0 = 0; p0 < k; p0 += kcStep) {
                int kc = Math.min(kcStep, k - p0), pc = p0;
                float blockBeta = p0 == 0 ? beta : 1f;
                parallel.parallelFor(packChunks, t -> GemmPacking.packB(transB, b, bOffset, n, k, pc, kc, jc, nc,
                        t * slivers / packChunks, (t + 1) * slivers / packChunks, packedB));
                if (panel) {
                    parallel.parallelFor(panelChunks, t -> GemmPacking.packTransposedA(a, aOffset, m, m, pc, kc,
                            t * mSlivers / panelChunks, (t + 1) * mSlivers / panelChunks, panelA));
                }
                parallel.parallelFor(mBlocks * nChunks, task -> {
                    Workspace own = workspaces.get();
                    int i0 = task / nChunks * MC, mc = Math.min(MC, m - i0), chunk = task % nChunks;
                    int first = chunk * slivers / nChunks, end = (chunk + 1) * slivers / nChunks;
                    if (panel) {
                        // this block's slivers of the shared panel
                        macroKernel(own, panelA, i0 * kc, kc, MR, packedB, kc, mc, nc, first, end,
                                c, cOffset + i0 * n + jc, n, alpha, blockBeta);
                    } else if (transA && mc % MR == 0) {
                        // A stored [k][m] already holds each sliver as packing would lay it out, MR
                        // contiguous floats per p, only m apart instead of MR: read it in place. The copy
                        // saved costs as much as the arithmetic when few B slivers share the block
                        // (attention's dV and dK, n = 64); with many, packing wins (see IN_PLACE_SLIVERS)
                        macroKernel(own, a, aOffset + pc * m + i0, 1, m, packedB, kc, mc, nc, first, end,
                                c, cOffset + i0 * n + jc, n, alpha, blockBeta);
                    } else {
                        if (transA) {
                            GemmPacking.packTransposedA(a, aOffset + i0, m, mc, pc, kc, 0, Math.ceilDiv(mc, MR), own.packedA);
                        } else {
                            GemmPacking.packA(a, aOffset, k, i0, mc, pc, kc, own.packedA);
                        }
                        macroKernel(own, own.packedA, 0, kc, MR, packedB, kc, mc, nc, first, end,
                                c, cOffset + i0 * n + jc, n, alpha, blockBeta);
                    }
                });
            }
        }
    }

    /**
     * C[mc][slivers firstSliver..endSliver of nc] at c[cAt] from an A block and a packed B block. Row r
     * of the A block starts at {@code aData[aAt + r * aRowStep]} and steps {@code aStep} floats per p:
     * (kc, MR) for a packed block, (1, m) for a transposed A read in place.
     */
    private void macroKernel(Workspace own, float[] aData, int aAt, int aRowStep, int aStep, float[] packedB,
                             int kc, int mc, int nc, int firstSliver, int endSliver,
                             float[] c, int cAt, int ldc, float alpha, float beta) {
        for (int s = firstSliver * NR; s < Math.min(nc, endSliver * NR); s += NR) {
            int cols = Math.min(NR, nc - s);
            for (int r = 0; r < mc; r += MR) {
                int rows = Math.min(MR, mc - r), at = cAt + r * ldc + s;
                if (simd) {
                    GemmKernel.tile(kc, aData, aAt + r * aRowStep, aStep, packedB, s * kc, c, at, ldc, rows, cols,
                            alpha, beta, own.tile);
                } else {
                    GemmKernel.tileScalar(kc, aData, aAt + r * aRowStep, aStep, packedB, s * kc, c, at, ldc, rows, cols,
                            alpha, beta, own.tile);
                }
            }
        }
    }

    /** C = beta * C without reading C when beta == 0. */
    private static void scale(float[] c, int cOffset, int size, float beta) {
        if (beta == 0) {
            Arrays.fill(c, cOffset, cOffset + size, 0f);
        } else if (beta != 1) {
            for (int i = cOffset; i < cOffset + size; i++) {
                c[i] *= beta;
            }
        }
    }
}
