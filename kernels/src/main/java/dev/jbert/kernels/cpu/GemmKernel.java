package dev.jbert.kernels.cpu;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The GEMM microkernel: one MR x NR tile of C from an MR-row sliver of packed A and an NR-column
 * sliver of packed B (see {@link GemmPacking} for their layouts), NR being two vectors wide.
 *
 * <pre>
 *   for p in 0..kc:  acc[MR][NR] += a[p][0..MR] (outer) b[p][0..NR]     (one FMA per element per p)
 *   C[MR][NR] = alpha * acc + beta * C                                  (beta == 0: C is not read)
 * </pre>
 *
 * <p>why 12 x 2 vectors: AVX-512 has 32 vector registers; 12 x 2 accumulators, two B vectors and
 * one broadcast of A fill 27 of them, and each step does 24 FMAs for 2 vector loads and 12
 * broadcasts. The accumulators are local variables so that they live in registers (an array of
 * vectors would live in memory, ~35x slower). Measured alone (kc = 256, one thread, best of 50
 * windows on a noisy 2-vCPU AVX-512 VM), as a fraction of a register-bound FMA loop: 12 x 2 0.75,
 * 6 x 4 0.69, 8 x 3 0.68, 14 x 2 (spills) 0.63 (the kernel has been tuned since: MicrokernelBenchmark,
 * in the benchmarks module, measures it as it is). NR follows the lane count; with 256-bit vectors
 * and 16 registers (AVX2) this shape would spill, and a 6 x 2 kernel would be the one to add.
 *
 * <p>An A sliver comes in one of two layouts, whichever its source packs into by copying ({@link
 * GemmPacking}), so there are two k loops, the same but for how they address A:
 * <pre>
 *   by steps (a transposed A, stored [k][m]):  a[p][r] at aAt + p * MR + r         (sliver: kc x MR)
 *   by rows  (a plain A, stored [m][k]):       a[p][r] at aAt + r * A_ROW_STRIDE + p (sliver: MR rows)
 * </pre>
 * Each loop needs its layout's offsets as constants: with the step or the row stride as a
 * parameter, C2 computes the 12 offsets every step (17 scalar instructions a step instead of 10;
 * see {@link #accumulateSteps}), and a method this large is not inlined, so its callers cannot
 * make a parameter constant either. One loop that loads the 12 floats of A in a branch on the
 * layout, each branch with constant offsets, ran the GEMMs whose A is by rows 2-8% slower by median
 * calls ({@code benchmarks/results/Gemm-probes-2026-11-28-0840.txt}, section 10).
 *
 * <p>The scalar twin ({@link #tileScalar}) does the same FMAs in the same order, one lane at a time,
 * so SIMD on and off give bitwise-identical results. Both write back through the same formulas.
 */
final class GemmKernel {
    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    static final int LANES = SPECIES.length();
    /** Rows of a tile (and of a packed A sliver). */
    static final int MR = 12;
    /** Columns of a tile (and of a packed B sliver): two vectors. */
    static final int NR = 2 * LANES;
    /**
     * How far apart, in floats, the k loop's reads from {@code touchAt} are, one a step (see
     * {@link #tile}): a tile touches 2 * kc floats, a sixth of an A sliver, a new line every 8 steps.
     */
    static final int TOUCH_STEP = 2;
    /**
     * Floats between the rows of an A sliver laid out by rows: the packed block's depth, so that a
     * plain A whose rows are that far apart (a [m][768] activation, where KC is 768) is its own
     * panel, read in place ({@link Gemm}). (Gemm's initialization reads no field of this class
     * that is not a compile-time constant, so this one can read Gemm's.)
     */
    static final int A_ROW_STRIDE = Gemm.KC;
    /**
     * The sum of the floats the k loop last read from {@code touchAt}, stored so that the JIT cannot
     * drop those reads as unused. Written by every GEMM thread, read by no one.
     */
    @SuppressWarnings("unused")
    private static float lastTouched;

    private GemmKernel() {}

    /**
     * C[rows][cols] at {@code c[cAt]} (row stride ldc) = alpha * A-sliver . B-sliver + beta * C, for
     * rows <= MR and cols <= NR. The A sliver starts at {@code ap[aAt]}, laid out by rows when
     * {@code byRows}, else by steps (see the class comment); the B sliver at {@code bp[bAt]}, NR
     * floats per p, on a cache line where the array's address is known (see {@link Gemm}).
     *
     * <p>The k loop also reads one float a step of {@code ap}, {@link #TOUCH_STEP} floats apart from
     * {@code touchAt} on, and drops it: a software prefetch, since Java has none. {@link Gemm} points
     * it at a piece of the next A sliver, which would otherwise come from L3 when the next row of
     * tiles starts. Read here, a line every 8 steps, each miss is alone and no FMA depends on it: it
     * only has to arrive before the out-of-order window fills up behind it, and the next sliver is
     * in cache when its tiles start. (A sliver demanded by its first tile, or touched in a tight loop
     * of its own, asks for dozens of lines at once, and the FMAs wait for them.) Where nothing is
     * worth fetching, {@code touchAt} is the sliver's own start, in L1.
     *
     * <p>The accumulators go through {@code tile} (MR * NR floats, in L1) to C: a helper taking vectors
     * as arguments would not always be inlined into this large method, and vectors passed across a
     * call are boxed (that cost 50x). A partial tile is computed whole
     * (packing pads with zeros) and only its valid part is written.
     */
    static void tile(int kc, float[] ap, int aAt, boolean byRows, float[] bp, int bAt,
                     float[] c, int cAt, int ldc, int rows, int cols, float alpha, float beta, float[] tile, int touchAt) {
        lastTouched = byRows ? accumulateRows(kc, ap, aAt, bp, bAt, tile, touchAt)
                : accumulateSteps(kc, ap, aAt, bp, bAt, tile, touchAt);
        writeBack(tile, c, cAt, ldc, rows, cols, alpha, beta);
    }

    /**
     * tile[MR][NR] = A-sliver . B-sliver for a sliver laid out by steps, the k loop itself; returns
     * the sum of the floats it touched (see {@link #tile}).
     *
     * <p>why the loop runs over A's index, with B's beside it, and why this is a method
     * of its own: the JIT then keeps a counted loop with a constant step (MR), drops A's range checks,
     * and adds to two offsets per step instead of computing both from p; and only the loop's own
     * values compete for the general registers (with C's arguments live across the loop as well, it
     * spilled two of them and reloaded them every step). Its C2 code (x86, disassembled, JDK 25): 10
     * scalar instructions a step beside the 24 FMAs and 14 loads (B's two range checks among them;
     * 12 when B was read from a memory segment), against 17 when A's offset was {@code aAt + p * aStep};
     * 13 since the touch (its index and range check; the touched float is added by one {@code vaddss}
     * from memory). Measured in JMH's {@code MicrokernelBenchmark} (one thread, old and new
     * alternating, two runs each): tiles over an MC x NC block with B from L2 at kc 768 went from
     * 73-76% of the FMA peak to 83% by median calls; in whole GEMMs (old and new builds in one JVM
     * against OpenBLAS, 2 threads, median calls) -1% to +5% on the Linear shapes and +5% and +29% on
     * attention's context and scores ({@code benchmarks/results/Gemm-probes-2026-11-27-1710.txt}).
     * The constant step is why A is always packed: a transposed A read in place (rows lda apart)
     * needed the step as a parameter.
     */
    private static float accumulateSteps(int kc, float[] ap, int aAt, float[] bp, int bAt, float[] tile, int touchAt) {
        FloatVector zero = FloatVector.zero(SPECIES);
        float touched = 0;
        FloatVector c0_0 = zero, c0_1 = zero, c1_0 = zero, c1_1 = zero, c2_0 = zero, c2_1 = zero, c3_0 = zero, c3_1 = zero;
        FloatVector c4_0 = zero, c4_1 = zero, c5_0 = zero, c5_1 = zero, c6_0 = zero, c6_1 = zero, c7_0 = zero, c7_1 = zero;
        FloatVector c8_0 = zero, c8_1 = zero, c9_0 = zero, c9_1 = zero, c10_0 = zero, c10_1 = zero, c11_0 = zero, c11_1 = zero;
        for (int a = aAt, end = aAt + kc * MR, b = bAt, t = touchAt; a < end; a += MR, b += NR, t += TOUCH_STEP) {
            touched += ap[t];
            FloatVector b0 = FloatVector.fromArray(SPECIES, bp, b);
            FloatVector b1 = FloatVector.fromArray(SPECIES, bp, b + LANES);
            FloatVector a0 = FloatVector.broadcast(SPECIES, ap[a + 0]);
            c0_0 = a0.fma(b0, c0_0);
            c0_1 = a0.fma(b1, c0_1);
            FloatVector a1 = FloatVector.broadcast(SPECIES, ap[a + 1]);
            c1_0 = a1.fma(b0, c1_0);
            c1_1 = a1.fma(b1, c1_1);
            FloatVector a2 = FloatVector.broadcast(SPECIES, ap[a + 2]);
            c2_0 = a2.fma(b0, c2_0);
            c2_1 = a2.fma(b1, c2_1);
            FloatVector a3 = FloatVector.broadcast(SPECIES, ap[a + 3]);
            c3_0 = a3.fma(b0, c3_0);
            c3_1 = a3.fma(b1, c3_1);
            FloatVector a4 = FloatVector.broadcast(SPECIES, ap[a + 4]);
            c4_0 = a4.fma(b0, c4_0);
            c4_1 = a4.fma(b1, c4_1);
            FloatVector a5 = FloatVector.broadcast(SPECIES, ap[a + 5]);
            c5_0 = a5.fma(b0, c5_0);
            c5_1 = a5.fma(b1, c5_1);
            FloatVector a6 = FloatVector.broadcast(SPECIES, ap[a + 6]);
            c6_0 = a6.fma(b0, c6_0);
            c6_1 = a6.fma(b1, c6_1);
            FloatVector a7 = FloatVector.broadcast(SPECIES, ap[a + 7]);
            c7_0 = a7.fma(b0, c7_0);
            c7_1 = a7.fma(b1, c7_1);
            FloatVector a8 = FloatVector.broadcast(SPECIES, ap[a + 8]);
            c8_0 = a8.fma(b0, c8_0);
            c8_1 = a8.fma(b1, c8_1);
            FloatVector a9 = FloatVector.broadcast(SPECIES, ap[a + 9]);
            c9_0 = a9.fma(b0, c9_0);
            c9_1 = a9.fma(b1, c9_1);
            FloatVector a10 = FloatVector.broadcast(SPECIES, ap[a + 10]);
            c10_0 = a10.fma(b0, c10_0);
            c10_1 = a10.fma(b1, c10_1);
            FloatVector a11 = FloatVector.broadcast(SPECIES, ap[a + 11]);
            c11_0 = a11.fma(b0, c11_0);
            c11_1 = a11.fma(b1, c11_1);
        }
        c0_0.intoArray(tile, 0 * NR);
        c0_1.intoArray(tile, 0 * NR + LANES);
        c1_0.intoArray(tile, 1 * NR);
        c1_1.intoArray(tile, 1 * NR + LANES);
        c2_0.intoArray(tile, 2 * NR);
        c2_1.intoArray(tile, 2 * NR + LANES);
        c3_0.intoArray(tile, 3 * NR);
        c3_1.intoArray(tile, 3 * NR + LANES);
        c4_0.intoArray(tile, 4 * NR);
        c4_1.intoArray(tile, 4 * NR + LANES);
        c5_0.intoArray(tile, 5 * NR);
        c5_1.intoArray(tile, 5 * NR + LANES);
        c6_0.intoArray(tile, 6 * NR);
        c6_1.intoArray(tile, 6 * NR + LANES);
        c7_0.intoArray(tile, 7 * NR);
        c7_1.intoArray(tile, 7 * NR + LANES);
        c8_0.intoArray(tile, 8 * NR);
        c8_1.intoArray(tile, 8 * NR + LANES);
        c9_0.intoArray(tile, 9 * NR);
        c9_1.intoArray(tile, 9 * NR + LANES);
        c10_0.intoArray(tile, 10 * NR);
        c10_1.intoArray(tile, 10 * NR + LANES);
        c11_0.intoArray(tile, 11 * NR);
        c11_1.intoArray(tile, 11 * NR + LANES);
        return touched;
    }

    /**
     * The same for a sliver laid out by rows: row r's step p at {@code ap[aAt + r * A_ROW_STRIDE + p]}.
     * The 12 broadcasts read 12 rows, each a new line every 16 steps; their offsets from the loop's
     * index are constants, as the other layout's are (its compiled code was not disassembled; alone,
     * in {@code MicrokernelBenchmark}, it runs at 93-95% of the core's FMA peak by median calls, the
     * other loop at 90-94%). Measured in whole GEMMs: see {@link GemmPacking#packAPlain}, which this
     * layout makes a copy.
     */
    private static float accumulateRows(int kc, float[] ap, int aAt, float[] bp, int bAt, float[] tile, int touchAt) {
        FloatVector zero = FloatVector.zero(SPECIES);
        float touched = 0;
        FloatVector c0_0 = zero, c0_1 = zero, c1_0 = zero, c1_1 = zero, c2_0 = zero, c2_1 = zero, c3_0 = zero, c3_1 = zero;
        FloatVector c4_0 = zero, c4_1 = zero, c5_0 = zero, c5_1 = zero, c6_0 = zero, c6_1 = zero, c7_0 = zero, c7_1 = zero;
        FloatVector c8_0 = zero, c8_1 = zero, c9_0 = zero, c9_1 = zero, c10_0 = zero, c10_1 = zero, c11_0 = zero, c11_1 = zero;
        for (int a = aAt, end = aAt + kc, b = bAt, t = touchAt; a < end; a++, b += NR, t += TOUCH_STEP) {
            touched += ap[t];
            FloatVector b0 = FloatVector.fromArray(SPECIES, bp, b);
            FloatVector b1 = FloatVector.fromArray(SPECIES, bp, b + LANES);
            FloatVector a0 = FloatVector.broadcast(SPECIES, ap[a + 0 * A_ROW_STRIDE]);
            c0_0 = a0.fma(b0, c0_0);
            c0_1 = a0.fma(b1, c0_1);
            FloatVector a1 = FloatVector.broadcast(SPECIES, ap[a + 1 * A_ROW_STRIDE]);
            c1_0 = a1.fma(b0, c1_0);
            c1_1 = a1.fma(b1, c1_1);
            FloatVector a2 = FloatVector.broadcast(SPECIES, ap[a + 2 * A_ROW_STRIDE]);
            c2_0 = a2.fma(b0, c2_0);
            c2_1 = a2.fma(b1, c2_1);
            FloatVector a3 = FloatVector.broadcast(SPECIES, ap[a + 3 * A_ROW_STRIDE]);
            c3_0 = a3.fma(b0, c3_0);
            c3_1 = a3.fma(b1, c3_1);
            FloatVector a4 = FloatVector.broadcast(SPECIES, ap[a + 4 * A_ROW_STRIDE]);
            c4_0 = a4.fma(b0, c4_0);
            c4_1 = a4.fma(b1, c4_1);
            FloatVector a5 = FloatVector.broadcast(SPECIES, ap[a + 5 * A_ROW_STRIDE]);
            c5_0 = a5.fma(b0, c5_0);
            c5_1 = a5.fma(b1, c5_1);
            FloatVector a6 = FloatVector.broadcast(SPECIES, ap[a + 6 * A_ROW_STRIDE]);
            c6_0 = a6.fma(b0, c6_0);
            c6_1 = a6.fma(b1, c6_1);
            FloatVector a7 = FloatVector.broadcast(SPECIES, ap[a + 7 * A_ROW_STRIDE]);
            c7_0 = a7.fma(b0, c7_0);
            c7_1 = a7.fma(b1, c7_1);
            FloatVector a8 = FloatVector.broadcast(SPECIES, ap[a + 8 * A_ROW_STRIDE]);
            c8_0 = a8.fma(b0, c8_0);
            c8_1 = a8.fma(b1, c8_1);
            FloatVector a9 = FloatVector.broadcast(SPECIES, ap[a + 9 * A_ROW_STRIDE]);
            c9_0 = a9.fma(b0, c9_0);
            c9_1 = a9.fma(b1, c9_1);
            FloatVector a10 = FloatVector.broadcast(SPECIES, ap[a + 10 * A_ROW_STRIDE]);
            c10_0 = a10.fma(b0, c10_0);
            c10_1 = a10.fma(b1, c10_1);
            FloatVector a11 = FloatVector.broadcast(SPECIES, ap[a + 11 * A_ROW_STRIDE]);
            c11_0 = a11.fma(b0, c11_0);
            c11_1 = a11.fma(b1, c11_1);
        }
        c0_0.intoArray(tile, 0 * NR);
        c0_1.intoArray(tile, 0 * NR + LANES);
        c1_0.intoArray(tile, 1 * NR);
        c1_1.intoArray(tile, 1 * NR + LANES);
        c2_0.intoArray(tile, 2 * NR);
        c2_1.intoArray(tile, 2 * NR + LANES);
        c3_0.intoArray(tile, 3 * NR);
        c3_1.intoArray(tile, 3 * NR + LANES);
        c4_0.intoArray(tile, 4 * NR);
        c4_1.intoArray(tile, 4 * NR + LANES);
        c5_0.intoArray(tile, 5 * NR);
        c5_1.intoArray(tile, 5 * NR + LANES);
        c6_0.intoArray(tile, 6 * NR);
        c6_1.intoArray(tile, 6 * NR + LANES);
        c7_0.intoArray(tile, 7 * NR);
        c7_1.intoArray(tile, 7 * NR + LANES);
        c8_0.intoArray(tile, 8 * NR);
        c8_1.intoArray(tile, 8 * NR + LANES);
        c9_0.intoArray(tile, 9 * NR);
        c9_1.intoArray(tile, 9 * NR + LANES);
        c10_0.intoArray(tile, 10 * NR);
        c10_1.intoArray(tile, 10 * NR + LANES);
        c11_0.intoArray(tile, 11 * NR);
        c11_1.intoArray(tile, 11 * NR + LANES);
        return touched;
    }

    /** The same tile with plain float FMAs, either layout of A: the "SIMD off" reference. */
    static void tileScalar(int kc, float[] ap, int aAt, boolean byRows, float[] bp, int bAt,
                           float[] c, int cAt, int ldc, int rows, int cols, float alpha, float beta, float[] tile) {
        int stepApart = byRows ? 1 : MR, rowsApart = byRows ? A_ROW_STRIDE : 1;
        Arrays.fill(tile, 0f);
        for (int p = 0; p < kc; p++) {
            int b = bAt + p * NR;
            for (int i = 0; i < MR; i++) {
                float ai = ap[aAt + p * stepApart + i * rowsApart];
                for (int j = 0; j < NR; j++) {
                    tile[i * NR + j] = Math.fma(ai, bp[b + j], tile[i * NR + j]);
                }
            }
        }
        writeBack(tile, c, cAt, ldc, rows, cols, alpha, beta);
    }

    /**
     * C[rows][cols] = alpha * tile + beta * C (C not read when beta == 0), two vectors per row. A
     * partial tile (the last columns of a C whose width is not a multiple of NR, which dynamic
     * padding makes common) uses masked loads and stores: lanes past {@code cols} are neither read
     * nor written. A whole tile uses plain ones: a masked store, even with every lane set, is slower
     * (on a Zen 5, whole GEMMs with plain stores for whole tiles, against masked ones: -4% to +11%
     * by median calls over 13 comparisons, +3% or more in 8; {@code
     * benchmarks/results/Gemm-probes-2026-11-27-2130.txt}, section 9). Both tile paths
     * write back through here, so SIMD on and off round alike.
     */
    private static void writeBack(float[] tile, float[] c, int cAt, int ldc, int rows, int cols, float alpha, float beta) {
        FloatVector alphas = FloatVector.broadcast(SPECIES, alpha), betas = FloatVector.broadcast(SPECIES, beta);
        boolean whole = cols == NR;
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < NR; j += LANES) {
                VectorMask<Float> valid = SPECIES.indexInRange(j, cols);
                int at = cAt + i * ldc + j;
                FloatVector acc = FloatVector.fromArray(SPECIES, tile, i * NR + j);
                if (beta == 0) {
                    acc = acc.mul(alphas);
                } else {
                    FloatVector old = whole ? FloatVector.fromArray(SPECIES, c, at) : FloatVector.fromArray(SPECIES, c, at, valid);
                    acc = beta == 1 ? acc.fma(alphas, old) : old.fma(betas, acc.mul(alphas));
                }
                if (whole) {
                    acc.intoArray(c, at);
                } else {
                    acc.intoArray(c, at, valid);
                }
            }
        }
    }
}
