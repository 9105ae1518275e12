package dev.jbert.kernels.cpu;

import static dev.jbert.kernels.cpu.GemmKernel.MR;
import static dev.jbert.kernels.cpu.GemmKernel.NR;

import dev.jbert.kernels.MatrixLayout;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * Single-precision GEMM, {@code C = alpha * op(A) op(B) + beta * C}, cache-blocked the Goto/BLIS way:
 *
 * <pre>
 *   for p0 in k by KC:                      beta applies on the first k block, later ones add to C
 *     op(A)[:][p0:p0+kc] is packed whole    one panel (m x kc) shared by all threads, read from L3
 *                                           (a plain A: each task packs its MC rows, in the first j0's pass;
 *                                           rows already KC apart are not packed at all, see below)
 *     for j0 in n by NC:                    op(B)[p0:p0+kc][j0:j0+nc] is packed: the B block (kc x nc,
 *                                           512-768 KiB) shared by all threads, kept in L2
 *       parallel for i0 in m by MC:         a task: MC rows of C (and a range of columns when m is small)
 *         for each MR-row sliver of A:      sliver (kc x MR, 3/4 of L1) stays in L1
 *           for each NR-column sliver of B: streamed from L2
 *             microkernel: one MR x NR tile of C in registers
 *       then, in the same parallel for:     the next B block and, after a k block's last, the next
 *                                           k block's A panel, into second buffers (see below)
 * </pre>
 *
 * <p>why the A sliver, not the B sliver, is the one kept in L1: consecutive tiles then lie side by
 * side along the same MR rows of C, so C is written (and, after the first k block, read) as MR
 * forward streams that the hardware prefetcher follows. The other way round, each tile starts on
 * MR rows of C that no access has touched for a whole B block, and the microkernel stalls on them:
 * measured on the macro kernel alone (3072 x 2304 x 768, one thread, best of 10), 122-136 GFLOP/s
 * against 149-157 this way, and 171 with C kept in L1, the microkernel's own speed. That needs the
 * B block in L2, hence NC. So A is packed once per k block, as one panel read back from L3 for
 * every B block: packed per (task, B block), each A block would be packed again for every B block.
 *
 * <p>who packs A: a plain A (stored [m][k]) is packed by the task that computes its rows, into the
 * shared panel, right before that task's tiles of the first B block, which then find their slivers
 * in this core's L2 instead of L3; the tasks of the later B blocks read the panel as before.
 * Measured (2 threads, old and new builds in one JVM against OpenBLAS, median calls; {@code
 * benchmarks/results/Gemm-probes-2026-11-27-1710.txt}): +3% to +7% on the forwards and +1% to +6%
 * on the input gradients with 3 B blocks (n = 768), -1% to +3% with 9 (QKV). A transposed A is
 * packed whole by all threads, ahead of its k block (below): packed per task, each step's row is
 * read in MC-float pieces, and the weight gradients ran 14-19% slower, attention's dV 47%. So is
 * any A whose rows several tasks share (m too small, the columns split too). Who packs never
 * changes the numbers: the panel holds the same floats either way.
 *
 * <p>why the next blocks are packed inside the tiles' parallel for: each parallel for ends when its
 * last task does, and with tasks of a few hundred microseconds the thread that runs out of tiles
 * first waited for the other (4-6% of both threads' time, measured in the 2-thread weight gradients
 * and forwards), and then both packed the next block while no tile ran. Put after the tiles, the
 * next block's pieces (a B sliver each; the A panel in 4 pieces per thread) are taken by
 * whichever thread is free first, and one barrier a block goes. Measured (2 threads, old and new
 * builds alternating in one JVM against OpenBLAS, median calls;
 * {@code benchmarks/results/Gemm-probes-2026-11-27-2320.txt}): +3% to +7% on the weight gradients,
 * +0% to +11% on the forwards and input gradients, attention unchanged. Spreading the A panel's
 * pieces among the tiles instead, or packing it as part of every task, ran no faster or slower.
 *
 * <p>why a plain A whose rows are KC apart is read in place: a plain A's sliver is laid out by rows,
 * KC floats apart ({@link GemmKernel}), so packing it copies each row's kc floats; where A's rows
 * already lie KC apart (bert's [tokens][768] activations with a 48 KiB L1), A's whole slivers are
 * that layout, and the tiles read them in A itself. Only a partial last sliver is packed, its
 * missing rows as zeros. (See {@link GemmPacking#packAPlain} for what each step gained.)
 *
 * <p>why each tile touches a piece of the next A sliver: an A panel larger than a B block cannot
 * stay in L2 beside it, so each B block's tiles read it back from L3, and the first tile of each row
 * of tiles used to wait for its sliver there (the tiles alone, on one thread: 4-13% slower with a
 * 9.5 MB panel than with one in L2; {@code Gemm-probes-2026-11-27-2320.txt}, section 10). Java
 * has no prefetch instruction, and reading the sliver in a loop of its own, before its tiles or
 * between them, waited as long. So each tile's k loop also reads a sixth of the task's next
 * sliver, one float a step, 2 floats apart ({@link GemmKernel#tile}): a new line every 8 steps,
 * each with the loop's out-of-order window to arrive in, and the next row of tiles finds its
 * sliver in cache.
 * Measured (2 threads, old and new builds alternating in one JVM against OpenBLAS, median calls;
 * {@code benchmarks/results/Gemm-probes-2026-11-28-0100.txt}, section 4): +1% to +12% on all 12
 * Linear shapes; attention's panels fit in L2 and are not touched ahead. The tiles' own loop runs
 * the touch's read and add where there is nothing to fetch too (it then reads the sliver in use):
 * about 2% on the tiles alone, within the noise in whole GEMMs.
 *
 * <p>Operands are row-major: op(A) is m x k, A is stored [m][k], or [k][m] when transA; op(B) is
 * k x n, B is stored [k][n], or [n][k] when transB; C is [m][n]. Rows are {@code lda}, {@code ldb}
 * and {@code ldc} apart, as in BLAS (the row length when dense): attention reads and writes its
 * heads in place that way. As in BLAS, C is not read when beta == 0 (so NaNs there do not leak),
 * and k == 0 or alpha == 0 means C = beta * C.
 *
 * <p>Every element of C is summed over k in the same order (k blocks in order, FMAs in order within
 * one), whichever thread computes it, so on one machine (KC follows its L1) results are bitwise
 * identical for every thread count, and with SIMD on and off.
 *
 * <p>Packing buffers are per thread and allocated once: two B blocks, and A's panels, which grow to
 * the largest panel seen, m x KC floats for a plain A (a second one only where panels are packed
 * ahead of their k block). One instance serves one caller at a time.
 */
public final class Gemm {
    /** Rows of C per task: 16 slivers of MR. */
    static final int MC = 16 * MR;
    /**
     * Depth of a packed block; k is split into equal blocks of at most KC. The deeper the block,
     * the fewer times C is read and written back (once per block), and that write-back is what
     * the macro kernel loses most to: its 12-row streams of C are too short for the prefetcher
     * (measured on one thread, each variant interleaved call by call with the others: the tiles
     * ran 8% slower writing the real C than with C kept in L1). So KC is as deep as lets an A
     * sliver (KC x MR floats) fill 3/4 of the L1 data cache: 768 with 48 KiB, 512 with Zen 4's
     * 32 KiB. Measured on the 48 KiB Xeon (one thread, jbert / OpenBLAS interleaved, medians,
     * two rounds): KC 768 and NC 256 against 256 and 512 raised the ratio on all four Linear
     * shapes tried, QKV forward from 0.82-0.85 to 0.89-0.98, a weight gradient from 0.78-0.81 to
     * 0.84-0.87; KC 512 gained half as much; KC 1024 (a sliver past L1) and NC 128 less or none.
     * On a Zen 5 (48 KiB L1d, 1 MiB L2; 2 threads, jbert / OpenBLAS interleaved in one JVM, medians)
     * KC 768 against 512: from -1% to +18% on the 12 Linear shapes, +3% and more on 9 of them
     * ({@code benchmarks/results/Gemm-probes-2026-11-27-2130.txt}).
     */
    static final int KC = depthFor(L1Cache.dataBytes());
    /**
     * Columns of op(B) per packed block: KC x NC floats is the block kept in L2 (768 KiB with KC
     * 768 of this Xeon's 2 MiB; 512 KiB with KC 512 of Zen 4's 1 MiB). 256 ran faster than 512
     * (above) and than 384.
     */
    static final int NC = 256;
    /**
     * Pieces per thread that a panel packed ahead is cut into (ranges of steps of a transposed A,
     * of slivers of a plain one, see {@link Operands#packAPiece}): enough for the free thread to take
     * the later ones while the other finishes its tiles. 12 ran no faster.
     */
    private static final int A_PIECES_PER_THREAD = 4;
    /** Batched GEMMs run one matrix per task when there are at least this many per thread. */
    private static final int BATCH_PER_THREAD = 2;

    private final Parallel parallel;
    private final boolean simd;
    private final Simd ops; // the bias rows' adds
    private final ThreadLocal<Workspace> workspaces = ThreadLocal.withInitial(Workspace::new);

    /**
     * One thread's packing buffers and the spill tile for partial tiles. A B block is read from its
     * first element on a cache line: the microkernel loads two vectors of it per step, and from an
     * array's first element (8-byte aligned, after a 16-byte header) most 64-byte loads straddle two
     * lines. Measured on the microkernel alone (one thread, kc 768, four offsets interleaved in one
     * JVM, best of 54 rounds): 185-188 GFLOP/s at the three misaligned offsets, 205-207 at the
     * aligned one; whole GEMMs ({@code benchmarks/results/Gemm-ab-aligned-b-2026-11-27-*.txt}): +3%
     * to +11% on 11 of bert's 15 shapes. The aligned element is looked up at every call
     * ({@link CacheLines}), since the collector may have moved the array since the last. (The block
     * lay off the heap for a while, in a memory segment, aligned once and for all: 213 GFLOP/s
     * alone, but packing into a segment ran at half the speed of packing into an array, see
     * {@link GemmPacking}; with arrays, whole GEMMs ran as fast or faster.)
     */
    private static final class Workspace {
        /** Two B blocks: the tiles read one while the next is packed into the other. */
        final float[][] blocksB = {blockB(), blockB()};
        final float[] tile = new float[MR * NR];
        /**
         * op(A)'s panels (see GemmPacking.packAPlain and packATransposed), each for one k block: grown to
         * the largest one needed.
         */
        final float[][] panels = {new float[0], new float[0]};

        /** One B block, with room to start it on a cache line. */
        private static float[] blockB() {
            return CacheLines.padded(NC / NR * GemmPacking.stride(NR, KC));
        }

        /** Makes the first {@code count} panels hold at least {@code floats}. */
        void reservePanels(int count, int floats) {
            for (int i = 0; i < count; i++) {
                if (panels[i].length < floats) {
                    panels[i] = new float[floats];
                }
            }
        }
    }

    /** op(A) (m rows) and op(B) as stored, and how their blocks are packed. */
    private record Operands(boolean transA, float[] a, int aOffset, int lda, int m,
                            boolean transB, float[] b, int bOffset, int ldb) {
        /** Sliver {@code sliver} of op(B)'s block at rows [p0, p0+kc), columns [j0, j0+nc), into {@code dst[dstAt..]}. */
        void packB(int p0, int kc, int j0, int nc, int sliver, float[] dst, int dstAt) {
            GemmPacking.packB(transB, b, bOffset, ldb, p0, kc, j0, nc, sliver, sliver + 1, dst, dstAt);
        }

        /**
         * Whether a plain A's rows lie {@link GemmKernel#A_ROW_STRIDE} apart, as a sliver's rows do in
         * the panel: then each whole sliver of the panel would be a copy of floats that already sit
         * in that layout, so the tiles read those where they are, and only a last, partial sliver
         * (fewer than MR rows left) is packed.
         */
        boolean aInPlace() {
            return !transA && lda == GemmKernel.A_ROW_STRIDE;
        }

        /** Floats between the starts of two slivers of op(A)'s panel for blocks kc deep. */
        int aSliverFloats(int kc) {
            return transA ? GemmPacking.stride(MR, kc) : GemmPacking.rowsStride(MR);
        }

        /**
         * Slivers [firstSliver, endSliver) of a plain A's panel for columns [p0, p0+kc), into {@code dst}
         * (of those, only a partial last sliver when A is read in place).
         */
        void packAPlain(int p0, int kc, int firstSliver, int endSliver, float[] dst) {
            int first = aInPlace() ? Math.max(firstSliver, m / MR) : firstSliver;
            if (first < endSliver) {
                GemmPacking.packAPlain(a, aOffset, lda, m, p0, kc, first, endSliver, dst);
            }
        }

        /**
         * Piece {@code piece} of {@code pieces} of op(A)'s panel for columns [p0, p0+kc): a range of
         * steps of a transposed A (rows of A as stored), a range of slivers of a plain one.
         */
        void packAPiece(int p0, int kc, int piece, int pieces, float[] dst) {
            if (transA) {
                GemmPacking.packATransposed(a, aOffset, lda, m, p0, kc, piece * kc / pieces,
                        (piece + 1) * kc / pieces, dst);
            } else {
                int slivers = Math.ceilDiv(m, MR);
                packAPlain(p0, kc, piece * slivers / pieces, (piece + 1) * slivers / pieces, dst);
            }
        }
    }

    /** {@code simd == false} keeps the blocking and packing but uses the scalar microkernel. */
    public Gemm(Parallel parallel, boolean simd) {
        this.parallel = parallel;
        this.simd = simd;
        this.ops = new Simd(simd);
    }

    /** C[m][n] = alpha * op(A)[m][k] op(B)[k][n] + beta * C, all three dense; see the class comment. */
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     float[] a, int aOffset, float[] b, int bOffset, float beta, float[] c, int cOffset) {
        gemm(transA, transB, m, n, k, alpha, a, aOffset, transA ? m : k, b, bOffset, transB ? k : n,
                beta, c, cOffset, n, null, 0, parallel.threads());
    }

    /**
     * C[m][n] = op(A) op(B) + bias, the row {@code bias[biasOffset .. +n)} added to every row of C,
     * all dense: a Linear layer's forward. The bias is added to each tile of C right after the
     * tile's last k block is written, while it is in L1, instead of in a pass of its own over C;
     * the sums are the same, bit for bit, as the product's followed by the bias's.
     */
    public void gemmPlusBias(boolean transA, boolean transB, int m, int n, int k, float[] a, int aOffset,
                             float[] b, int bOffset, float[] bias, int biasOffset, float[] c, int cOffset) {
        gemm(transA, transB, m, n, k, 1, a, aOffset, transA ? m : k, b, bOffset, transB ? k : n,
                0, c, cOffset, n, bias, biasOffset, parallel.threads());
    }

    /**
     * C = alpha * op(A) op(B) + beta * C with rows {@code lda}, {@code ldb}, {@code ldc} apart, on the
     * calling thread only: for a task inside a parallelFor body.
     */
    public void gemmOnThisThread(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOffset,
                                 int lda, float[] b, int bOffset, int ldb, float beta, float[] c, int cOffset, int ldc) {
        gemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc, null, 0, 1);
    }

    /**
     * The same with rows {@code lda}, {@code ldb}, {@code ldc} apart, plus the bias row when
     * {@code bias} is not null, its work split for {@code threads} threads (1 inside a parallelFor body).
     */
    private void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOffset, int lda,
                      float[] b, int bOffset, int ldb, float beta, float[] c, int cOffset, int ldc,
                      float[] bias, int biasOffset, int threads) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("negative GEMM size " + m + " x " + n + " x " + k);
        }
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0 || alpha == 0) {
            for (int i = 0; i < m; i++) {
                scale(c, cOffset + i * ldc, n, beta);
                if (bias != null) {
                    ops.addInto(bias, biasOffset, c, cOffset + i * ldc, n);
                }
            }
            return;
        }
        multiply(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc,
                bias, biasOffset, threads);
    }

    /**
     * {@code batch} independent GEMMs of the same shape; matrix z of A starts at
     * {@code aOffset + aLayout.start(z)} with rows {@code aLayout.rowStride()} apart, and likewise
     * for B and C. Many small matrices (attention's 96 of 384 x 384 x 64) run one per task; a few
     * large ones are each split over the threads.
     */
    public void gemmBatched(boolean transA, boolean transB, int m, int n, int k, float alpha,
                            float[] a, int aOffset, MatrixLayout aLayout, float[] b, int bOffset, MatrixLayout bLayout,
                            float beta, float[] c, int cOffset, MatrixLayout cLayout, int batch) {
        boolean perTask = batch >= BATCH_PER_THREAD * parallel.threads();
        // one matrix per task, with that thread's buffers: planned for one thread, so that no block
        // of A is packed twice for column chunks that would run one after the other anyway
        IntConsumer one = z -> gemm(transA, transB, m, n, k, alpha,
                a, aOffset + (int) aLayout.start(z), aLayout.rowStride(), b, bOffset + (int) bLayout.start(z), bLayout.rowStride(),
                beta, c, cOffset + (int) cLayout.start(z), cLayout.rowStride(), null, 0, perTask ? 1 : parallel.threads());
        if (perTask) {
            parallel.parallelFor(batch, one);
        } else {
            for (int z = 0; z < batch; z++) {
                one.accept(z);
            }
        }
    }

    /** The blocked product for m, n, k > 0 and alpha != 0, its work split for {@code threads} threads. */
    private void multiply(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOffset, int lda,
                          float[] b, int bOffset, int ldb, float beta, float[] c, int cOffset, int ldc,
                          float[] bias, int biasOffset, int threads) {
        Workspace caller = workspaces.get();  // its buffers are shared with the other threads
        Operands operands = new Operands(transA, a, aOffset, lda, m, transB, b, bOffset, ldb);
        int mBlocks = Math.ceilDiv(m, MC), mSlivers = Math.ceilDiv(m, MR);
        // too few row blocks to keep every thread busy (m small, n large): split the columns too
        int nChunks = threads == 1 || mBlocks >= 2 * threads ? 1 : Math.ceilDiv(2 * threads, mBlocks);
        int kBlocks = Math.ceilDiv(k, KC), kcStep = Math.ceilDiv(k, kBlocks);
        // a plain A is packed by the task that owns its rows, just before that task's tiles of the first
        // B block, when no other task shares those rows (see the class comment); any other A ahead, in
        // pieces, into one panel while the tiles read the other
        boolean packPerTask = !transA && nChunks == 1;
        int aPieces = packPerTask ? 0 : threads == 1 ? 1 : Math.min(mSlivers, A_PIECES_PER_THREAD * threads);
        int panels = packPerTask ? 1 : Math.min(kBlocks, 2);
        caller.reservePanels(panels, mSlivers * operands.aSliverFloats(kcStep));
        float[][] blocksB = caller.blocksB;
        int[] blocksAt = {CacheLines.firstAlignedIndex(blocksB[0]), CacheLines.firstAlignedIndex(blocksB[1])};
        // the first B block and A panel; every later one is packed after the tiles before it
        int firstKc = Math.min(kcStep, k), firstNc = Math.min(NC, n), firstSlivers = Math.ceilDiv(firstNc, NR);
        parallel.parallelFor(firstSlivers + aPieces, i -> {
            if (i < firstSlivers) {
                operands.packB(0, firstKc, 0, firstNc, i, blocksB[0], blocksAt[0]);
            } else {
                operands.packAPiece(0, firstKc, i - firstSlivers, aPieces, caller.panels[0]);
            }
        });
        // an A panel larger than a B block cannot stay in L2 beside it: each B block's tiles read it
        // back from L3, and each tile then touches a piece of its task's next sliver (see below)
        boolean touchNext = (long) m * kcStep > (long) NC * KC;
        int blockB = 0;  // which of the two buffers holds this B block
        for (int p0 = 0, kBlock = 0; p0 < k; p0 += kcStep, kBlock++) {
            int kc = Math.min(kcStep, k - p0), pc = p0;
            float blockBeta = p0 == 0 ? beta : 1f;
            float[] blockBias = p0 + kc == k ? bias : null; // added once, to the finished sums
            float[] panelA = caller.panels[kBlock % panels], nextPanel = caller.panels[(kBlock + 1) % panels];
            for (int j0 = 0; j0 < n; j0 += NC) {
                int nc = Math.min(NC, n - j0), slivers = Math.ceilDiv(nc, NR), jc = j0;
                int chunks = Math.min(nChunks, slivers), tasks = mBlocks * chunks;
                // the next B block: the next columns, or the next k block's first, with its A panel
                boolean lastColumns = j0 + NC >= n;
                int nextP0 = lastColumns ? p0 + kcStep : p0, nextJ0 = lastColumns ? 0 : j0 + NC;
                int nextKc = Math.min(kcStep, k - nextP0), nextNc = Math.min(NC, n - nextJ0);
                int nextB = nextP0 < k ? Math.ceilDiv(nextNc, NR) : 0;
                int nextA = lastColumns && nextP0 < k ? aPieces : 0;
                float[] packedB = blocksB[blockB], nextBlockB = blocksB[1 - blockB];
                int packedAt = blocksAt[blockB], nextAt = blocksAt[1 - blockB];
                blockB = 1 - blockB;
                parallel.parallelFor(tasks + nextB + nextA, i -> {
                    if (i >= tasks + nextB) {
                        operands.packAPiece(nextP0, nextKc, i - tasks - nextB, aPieces, nextPanel);
                    } else if (i >= tasks) {
                        operands.packB(nextP0, nextKc, nextJ0, nextNc, i - tasks, nextBlockB, nextAt);
                    } else {
                        int i0 = i / chunks * MC, iEnd = Math.min(m, i0 + MC), chunk = i % chunks;
                        if (packPerTask && jc == 0) {
                            operands.packAPlain(pc, kc, i0 / MR, Math.ceilDiv(iEnd, MR), panelA);
                        }
                        macroKernel(workspaces.get(), operands, pc, panelA, kc, touchNext, packedB, packedAt, nc,
                                i0, iEnd, chunk * slivers / chunks, (chunk + 1) * slivers / chunks,
                                c, cOffset + jc, ldc, alpha, blockBeta, blockBias, biasOffset + jc);
                    }
                });
            }
        }
    }

    /**
     * Rows [i0, iEnd) of C, B slivers [firstSliver, endSliver) of the block (from
     * {@code packedB[packedAt]}) at C's column {@code cAt}, for the k block [p0, p0+kc): A sliver by
     * A sliver from the panel (or from A itself, see {@link Operands#aInPlace}), each tile touching a
     * piece of the next sliver when {@code touchNext}.
     * With a bias (the last k block of {@link #gemmPlusBias}), each finished tile gets its columns'
     * bias.
     */
    private void macroKernel(Workspace own, Operands operands, int p0, float[] panelA, int kc, boolean touchNext,
                             float[] packedB, int packedAt, int nc, int i0, int iEnd, int firstSliver, int endSliver,
                             float[] c, int cAt, int ldc, float alpha, float beta, float[] bias, int biasAt) {
        boolean byRows = !operands.transA();
        int sliverFloats = operands.aSliverFloats(kc), m = operands.m();
        // a touch piece: TOUCH_STEP steps of each sliver row by steps, TOUCH_STEP rows by rows
        int touchPiece = GemmKernel.TOUCH_STEP * (byRows ? GemmKernel.A_ROW_STRIDE : kc);
        for (int r = i0; r < iEnd; r += MR) {
            boolean inPlace = operands.aInPlace() && r + MR <= m;
            float[] ap = inPlace ? operands.a() : panelA;
            int rows = Math.min(MR, iEnd - r);
            int aAt = inPlace ? operands.aOffset() + r * operands.lda() + p0 : r / MR * sliverFloats;
            // this task's next sliver, already packed (or in place), and in the same array as this one
            boolean touch = touchNext && r + MR < iEnd && (!inPlace || r + 2 * MR <= m);
            for (int s = firstSliver * NR; s < Math.min(nc, endSliver * NR); s += NR) {
                int bAt = packedAt + s / NR * GemmPacking.stride(NR, kc);
                int cols = Math.min(NR, nc - s), at = cAt + r * ldc + s;
                if (simd) {
                    // the next sliver in pieces, one a tile, round robin
                    int pieces = MR / GemmKernel.TOUCH_STEP, piece = (s / NR - firstSliver) % pieces;
                    int touchAt = touch ? aAt + sliverFloats + piece * touchPiece : aAt;
                    GemmKernel.tile(kc, ap, aAt, byRows, packedB, bAt, c, at, ldc, rows, cols,
                            alpha, beta, own.tile, touchAt);
                } else {
                    GemmKernel.tileScalar(kc, ap, aAt, byRows, packedB, bAt, c, at, ldc, rows, cols,
                            alpha, beta, own.tile);
                }
                for (int i = 0; bias != null && i < rows; i++) {
                    ops.addInto(bias, biasAt + s, c, at + i * ldc, cols);
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

    /** KC for an L1 data cache of {@code bytes}: a multiple of 64 whose A sliver fills at most 3/4 of it. */
    static int depthFor(int bytes) {
        int depth = 3 * bytes / 4 / (MR * Float.BYTES) / 64 * 64;
        return Math.clamp(depth, 128, 1024);
    }
}
