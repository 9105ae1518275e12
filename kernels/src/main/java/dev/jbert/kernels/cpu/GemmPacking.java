package dev.jbert.kernels.cpu;

import static dev.jbert.kernels.cpu.GemmKernel.MR;
import static dev.jbert.kernels.cpu.GemmKernel.NR;
import static dev.jbert.kernels.cpu.GemmKernel.LANES;
import static dev.jbert.kernels.cpu.GemmKernel.SPECIES;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * Copies blocks of op(A) and op(B) into the order the microkernel reads them, so it streams through
 * contiguous memory whatever the operands' layout. The transposes are handled here, which is why one
 * microkernel (in two layouts of A, see {@link GemmKernel}) serves all four transpose combinations.
 *
 * <pre>
 *   packed A block (m x kc): slivers of MR rows
 *     a transposed A, by steps:  sliver s holds a[p][r] at s*stride(MR, kc) + p*MR + r
 *     a plain A, by rows:        sliver s holds a[p][r] at s*rowsStride(MR) + r*A_ROW_STRIDE + p
 *   packed B block (kc x nc): slivers of NR columns; sliver s holds  b[p][j] at s*stride(NR, kc) + p*NR + j
 * </pre>
 * Each A layout is the one its source is copied into without a transpose: a transposed A holds each
 * step as a row (12 floats of it make a step of a sliver), a plain A each of op(A)'s rows (kc floats
 * of it make a row of a sliver). A last, partial sliver is padded with zeros, so the microkernel
 * always computes whole tiles.
 * Blocks are written to float arrays: A's panel from its first element, B's block from the one
 * that starts a cache line (see {@link Gemm}).
 *
 * <p>why arrays, not memory segments: every vector store into a segment, on or off the heap, ran at
 * about half the speed of the same store into an array (16 x 16 transposes of a plain A in L2, when a
 * plain A was still packed that way, one
 * thread: 0.19 ns a float into an array, 0.32-0.35 into a segment; vector copies of a transposed A:
 * 0.13 against 0.25-0.27). Attention's context and dQ GEMMs, whose packing of A takes a third of
 * their time, ran 12-15% faster (2 threads, old and new builds alternating in one JVM against
 * OpenBLAS, median calls; {@code benchmarks/results/Gemm-probes-2026-11-27-2320.txt}).
 */
final class GemmPacking {
    /**
     * A pass of {@code alongRows}: the steps of every sliver in its range that it packs before moving
     * on to the next steps. Its rows (touched first, see {@link #touchRows}) are read from L2: 32
     * rows of a transposed A packed whole-width are 96 to 384 KiB (768 to 3072 floats a row). Why so
     * many, when rows that fit in L1 would be read faster: a pass writes each sliver one run of its
     * steps, and the run should be whole cache lines. At 2 steps a pass, what half of L1 allowed for a
     * 2304-wide A, each sliver got 24 floats (1.5 lines) a pass, and the panel (7 MiB, past L2) had
     * its lines written in pieces, one pass after another. Measured (one thread, packing one
     * 768-step block of a transposed A, pass sizes interleaved call by call, medians of 200 calls,
     * source evicted before each): 2304 wide 0.50-0.56 -> 0.31-0.34 ns a float, 3072 wide 0.55 ->
     * 0.40, 768 wide (8 steps a pass before) 0.50 -> 0.34; 16 and 64 steps slower than 32 at 768
     * and 2304 wide. A plain B's sliver (32 wide, 16 steps a pass before) packs as fast either way.
     * Whole weight gradients (2 threads, old and new builds alternating in one JVM against
     * OpenBLAS): +0% to +3% by median calls, +1% to +2% by mean calls ({@code
     * benchmarks/results/Gemm-probes-2026-11-28-0700.txt}, which also shows packing to be what
     * these GEMMs lose to OpenBLAS: 8-11% of a call, while the tiles alone keep pace with it).
     */
    private static final int STEPS_PER_PASS = 32;
    /**
     * Steps of a sliver that {@code acrossRows} touches and then transposes or gathers before moving
     * on (measured when it only gathered): 128 steps
     * of a 32-row B sliver are 16 KiB, so the touched lines are still in L1 when the gathers reach
     * them; touching all kc steps first (96 KiB at kc 768) evicted the first ones again. Measured on
     * the FFN-down forward (3072 x 768 x 3072, 2 threads), when its plain A was packed this way too: packing A 2.8 -> 2.4 ms a call, B 0.89 ->
     * 0.84; whole calls, old and new builds alternating in one JVM, +2% and +5% by median calls
     * (the attention output's forward, 3072 x 768 x 768: -0.3% and +4%). No touch at all packed that
     * A as fast (2.4 ms: each gather asks for its rows' lines at once too), but ran attention's
     * scores (96 of 384 x 384 x 64, from memory, a sliver's 64 steps a few lines a row) 13% slower
     * by median calls, so the touch stays.
     */
    private static final int GATHER_STEPS = 128;
    /** A gather's row offsets (one per lane), per thread: filled per sliver, never allocated in a step. */
    private static final ThreadLocal<int[]> GATHER_ROWS = ThreadLocal.withInitial(() -> new int[LANES]);
    /** Floats in a 64-byte cache line: the step of {@link #touchRows}. */
    private static final int FLOATS_PER_LINE = 16;
    /**
     * The sum of what {@link #touchRows} last read, stored so that the JIT cannot drop those reads as
     * unused. Written by every packing thread, read by no one.
     */
    @SuppressWarnings("unused")
    private static float lastTouched;

    /**
     * Floats between the starts of two slivers: the sliver (width x kc), then a gap of one vector,
     * which takes what {@code alongRows}'s whole vectors write past a sliver's last step.
     */
    static int stride(int width, int kc) {
        return width * kc + LANES;
    }

    private GemmPacking() {}

    /** Floats between the starts of two slivers laid out by rows ({@code width} rows). */
    static int rowsStride(int width) {
        return width * GemmKernel.A_ROW_STRIDE;
    }

    /**
     * Slivers [firstSliver, endSliver) of the {@code size} rows of a plain A (m x k, stored [m][k],
     * row i at {@code a[at + i * lda]}) for columns [p0, p0+kc), laid out by rows: sliver s at
     * {@code dst[s * rowsStride(MR)]}, its row r kc floats from {@code A_ROW_STRIDE * r} on; a
     * partial sliver's missing rows are zeros. Each row is one {@code System.arraycopy}. Threads share
     * the packing of a plain A's panel by taking ranges of slivers, a transposed A's by taking ranges
     * of steps ({@link #packATransposed}).
     *
     * <p>why by rows: laid out by steps, as a transposed A is, a plain A had to be transposed, 16 x 16
     * floats at a time in registers ({@link RegisterTranspose}), and that bound its packing: 0.234
     * ns a float with the rows in L2, 0.13 for the transposes alone. Copied by rows, and read in
     * place where A's rows already lie {@code A_ROW_STRIDE} apart (the [m][768] activations that
     * the QKV, attention-output and FFN-up forwards and the attention output's and FFN-down's input
     * gradients read). Measured (2 threads, old and new builds alternating in one JVM against OpenBLAS,
     * median calls; {@code benchmarks/results/Gemm-probes-2026-11-28-0840.txt}): packed by rows, the
     * forwards, input gradients and attention's GEMMs with a plain A +0% to +11% but one (-0.7%); read
     * in place, the three forwards with k = 768 a further +3% to +6%, +4% to +11% over packing by
     * steps (the FFN-down input gradient -1% to -1.5%, within the noise). A transposed A packed by rows,
     * through 16 x 16 transposes, made the weight gradients 2-4% slower, so it keeps the layout by
     * steps.
     */
    static void packAPlain(float[] a, int at, int lda, int size, int p0, int kc, int firstSliver, int endSliver,
                           float[] dst) {
        for (int i = firstSliver * MR; i < endSliver * MR; i++) {
            int to = i / MR * rowsStride(MR) + i % MR * GemmKernel.A_ROW_STRIDE;
            if (i < size) {
                System.arraycopy(a, at + i * lda + p0, dst, to, kc);
            } else {
                Arrays.fill(dst, to, to + kc, 0f);
            }
        }
    }

    /**
     * Steps [qFrom, qTo) of every sliver of a transposed A's panel: op(A) is m x k ({@code size}
     * rows), A is stored [k][m] (op(A)'s row i at {@code a[at + i]}, column p at {@code a[at + p * lda]}),
     * for columns [p0, p0+kc), sliver s at {@code dst[s * stride(MR, kc)]}. These are the rows
     * p0+qFrom .. p0+qTo of A, each read end to end. Where A is dense (a gradient dY stored [k][m]),
     * these rows lie one after the other, so a piece of the panel is one run of memory. The earlier
     * split, ranges of slivers, read each row in runs of a few lines (96 floats for 8 pieces of 768),
     * rows 3 KiB and more apart; the likely reason for the difference is that the hardware prefetcher
     * follows one long run and not those (this VM exposes no counters to confirm it). Measured
     * (2 threads, old and new builds in one JVM against OpenBLAS, 12 rounds of 4 calls; {@code
     * benchmarks/results/Gemm-probes-2026-11-28-0320.txt}, section 4): the attention output's weight
     * gradient (768 x 768 x 3072) +4% to +11% by median calls over six comparisons, and fewer slow
     * calls (its 90th-percentile call from 0.76-0.82x OpenBLAS's to 0.82-1.14x); the other three weight
     * gradients -1% to +4%.
     */
    static void packATransposed(float[] a, int at, int lda, int size, int p0, int kc, int qFrom, int qTo,
                                float[] dst) {
        alongRows(a, at, lda, p0, kc, qFrom, qTo, 0, size, size, MR, dst, 0);
    }

    /**
     * Slivers [firstSliver, endSliver) of rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) (k x n),
     * sliver s at {@code dst[dstAt + s * stride(NR, kc)]}; packing is split by slivers so that threads
     * can share it. B is stored [k][n], or [n][k] when transB, its rows {@code ldb} apart.
     */
    static void packB(boolean transB, float[] b, int bOffset, int ldb, int p0, int kc, int j0, int nc,
                      int firstSliver, int endSliver, float[] dst, int dstAt) {
        int first = firstSliver * NR, end = Math.min(nc, endSliver * NR);
        if (transB) {
            acrossRows(b, bOffset + j0 * ldb, ldb, p0, kc, first, end, nc, NR, dst, dstAt);
        } else {
            alongRows(b, bOffset + j0, ldb, p0, kc, 0, kc, first, end, nc, NR, dst, dstAt);
        }
    }

    /**
     * Packs positions [first, end) of a block (of {@code size}) into slivers of {@code width}, for
     * steps p0+qFrom .. p0+qTo of the block's p0 .. p0+kc, when the source holds each step as a row:
     * step p of position j is {@code src[at + p * ld + j]} (a transposed A, a plain B). It goes a
     * pass of steps at a time (see STEPS_PER_PASS) across all slivers: each sliver then gets a
     * contiguous run of writes, and the rows being read stay in cache from one sliver to the next.
     * (Sliver by sliver over all kc steps, the reads would stride through kc rows ld floats apart,
     * which map to a few L1 sets and evict each other before the next sliver's turn: the TN
     * weight-gradient GEMMs ran 13-32% slower that way.)
     */
    private static void alongRows(float[] src, int at, int ld, int p0, int kc, int qFrom, int qTo, int first, int end,
                                  int size, int width, float[] dst, int dstAt) {
        int stride = stride(width, kc), vectors = Math.ceilDiv(width, LANES);
        for (int q = qFrom; q < qTo; q += STEPS_PER_PASS) {
            int qEnd = Math.min(qTo, q + STEPS_PER_PASS);
            touchRows(src, at + first, ld, p0 + q, qEnd - q, end - first);  // this pass's rows
            // the steps written with whole vectors: when width is not a multiple of LANES, the last
            // vector of a step spills into the next step, which must not belong to another range
            // (another thread may have packed it already); the gap after the last step takes it
            int wholeEnd = width % LANES != 0 && qEnd == qTo && qTo < kc ? qEnd - 1 : qEnd;
            for (int s = first, sliver = dstAt + first / width * stride; s < end; s += width, sliver += stride) {
                int count = Math.min(width, size - s), from = at + (p0 + q) * ld + s, to = sliver + q * width;
                int p = q;
                if (count == width && vectors <= 2 && from + (qEnd - 1 - q) * ld + vectors * LANES <= src.length) {
                    // a whole sliver whose pass stays inside the array: one or two whole vectors a step,
                    // checked once for the pass and written out, not looped over. When width is not a
                    // multiple of LANES (an A sliver is 12 wide), the last vector also copies the floats
                    // after the run, into the next step of the sliver, which is written after this one,
                    // or, after the last step, into the gap between slivers (see stride). Measured (one
                    // thread, operands in L2): 0.49 -> 0.35 ns a float for a transposed A's 12-wide
                    // slivers, 0.28 -> 0.20 for a B's 32-wide ones, against a loop over the vectors of
                    // each step; masked vectors ran twice as slow again
                    boolean two = vectors == 2;
                    for (; p < wholeEnd; p++, from += ld, to += width) {
                        FloatVector.fromArray(SPECIES, src, from).intoArray(dst, to);
                        if (two) {
                            FloatVector.fromArray(SPECIES, src, from + LANES).intoArray(dst, to + LANES);
                        }
                    }
                }
                // the rest, masked: the edges (a partial sliver, a pass that reaches the array's end,
                // slivers of more than two vectors on narrower vector units) and a range's last step
                for (; p < qEnd; p++, from += ld, to += width) {
                    copyPadded(src, from, count, dst, to, width);
                }
            }
        }
    }

    /**
     * The same when the source holds each position as a row, step p of position j at
     * {@code src[at + j * ld + p]} (a transposed B): a transposing copy. With 16-lane vectors, a group
     * of 16 positions (half a B sliver) that lies inside the block
     * goes 16 steps at a time through {@link RegisterTranspose}. The rest (partial slivers, the last
     * steps of a pass, narrower vectors) is gathered: each step of a vector's worth of positions is
     * one gather, rows ld apart, and one store; positions past the block's edge are masked off
     * (their index points at a row inside it) and stored as zeros. Gathers measured on a 3072 x 256
     * panel on the Xeon: 0.33 ns a float, against 0.6 for a scalar copy.
     */
    private static void acrossRows(float[] src, int at, int ld, int p0, int kc, int first, int end, int size,
                                   int width, float[] dst, int dstAt) {
        int[] rows = GATHER_ROWS.get();
        for (int s = first; s < end; s += width) {
            int count = Math.min(width, size - s), d = dstAt + s / width * stride(width, kc);
            for (int q = 0; q < kc; q += GATHER_STEPS) {
                int qEnd = Math.min(kc, q + GATHER_STEPS);
                touchRows(src, at + p0 + q, ld, s, count, qEnd - q);  // these steps of the sliver's rows
                for (int j = 0; j < width; j += LANES) {
                    int row = at + (s + j) * ld + p0, p = q;
                    if (RegisterTranspose.AVAILABLE && j + RegisterTranspose.SIZE <= count) {
                        for (; p + RegisterTranspose.SIZE <= qEnd; p += RegisterTranspose.SIZE) {
                            RegisterTranspose.transpose(src, row, ld, p, dst, d + p * width + j, width);
                        }
                    }
                    gather(src, row, ld, p, qEnd, j, count, width, rows, dst, d);
                }
            }
        }
    }

    /**
     * Steps [p, qEnd) of positions [j, j + LANES) of a sliver (of {@code count} real positions in
     * {@code width}), position j's row at {@code src[row]}: one gather and one store a step, into the
     * sliver at {@code dst[d]}. {@code rows} is scratch for the lanes' row offsets.
     */
    private static void gather(float[] src, int row, int ld, int p, int qEnd, int j, int count, int width,
                               int[] rows, float[] dst, int d) {
        if (p == qEnd) {
            return;
        }
        for (int lane = 0; lane < LANES; lane++) {
            rows[lane] = j + lane < count ? lane * ld : 0;
        }
        VectorMask<Float> valid = SPECIES.indexInRange(j, count), inSliver = SPECIES.indexInRange(j, width);
        for (; p < qEnd; p++) {
            // a vector wholly past the edge has no row to gather from (its base would be outside)
            FloatVector step = j < count ? FloatVector.fromArray(SPECIES, src, row + p, rows, 0, valid)
                    : FloatVector.zero(SPECIES);
            step.intoArray(dst, d + p * width + j, inSliver);
        }
    }

    /**
     * Reads one float of each cache line of floats [at, at+count) of rows firstRow .. firstRow+rows
     * of {@code src}, rows {@code ld} apart, row by row: a software prefetch, since Java has none.
     * A packing pass reads its rows piecemeal (alongRows: 12 or 32 floats of each of 16 rows in
     * turn, rows kilobytes apart; acrossRows: 16 floats of each of 16 rows per transpose, one
     * float of each per gather), a pattern
     * the hardware prefetchers do not follow, so when the operand is not in cache every piece waits
     * for memory in turn. Touched first, row by row, the lines are all requested at once and the
     * copy then finds them in cache. Measured
     * (one thread, operands evicted by 64 MiB of other data before each pass): packing a transposed
     * A 1.43 -> 0.87 ns a float, a plain B 0.78 -> 0.52; in cache, no change (0.54, 0.30). The
     * weight-gradient GEMMs, where operands come from memory, ran 5-11% faster by median calls
     * ({@code benchmarks/results/Gemm-pair-probe-touch-2026-11-27-0829.txt}). The reads' sum goes
     * to {@link #lastTouched}, so that the JIT cannot drop them.
     */
    private static void touchRows(float[] src, int at, int ld, int firstRow, int rows, int count) {
        float sum = 0;
        for (int row = firstRow; row < firstRow + rows; row++) {
            for (int i = at + row * ld; i < at + row * ld + count; i += FLOATS_PER_LINE) {
                sum += src[i];
            }
        }
        lastTouched = sum;
    }

    /**
     * dst[at .. at+width) = src[from .. from+count) followed by zeros, count <= width: one masked
     * vector load and store per vector of the run (12 or 32 floats), the padding included. For the
     * edges: a masked vector is about twice as slow as a whole one. Data movement only, so it is the
     * same with SIMD off.
     */
    private static void copyPadded(float[] src, int from, int count, float[] dst, int at, int width) {
        for (int j = 0; j < width; j += LANES) {
            FloatVector.fromArray(SPECIES, src, from + j, SPECIES.indexInRange(j, count))
                    .intoArray(dst, at + j, SPECIES.indexInRange(j, width));
        }
    }
}
