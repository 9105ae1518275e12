package dev.jbert.kernels.cpu;

import static dev.jbert.kernels.cpu.GemmKernel.LANES;
import static dev.jbert.kernels.cpu.GemmKernel.SPECIES;

import jdk.incubator.vector.FloatVector;

/**
 * A 16 x 16 block of floats transposed in registers, with 16-lane (AVX-512) vectors: how
 * {@link GemmPacking} packs a transposed B, whose rows become the steps of a sliver.
 *
 * <pre>
 *   in:  v[i] = src[row + i*ld + p .. +16)                    source row i
 *   out: dst[to + t*width .. +16) = v[0][t], v[1][t], ..., v[15][t]    step p+t: lane i from row i
 * </pre>
 *
 * <p>How: a matrix of 2 x 2 blocks [[A, B], [C, D]] has the transpose [[Aᵀ, Cᵀ], [Bᵀ, Dᵀ]], so swap
 * B and C, then do the same inside every block, at block sizes 8, 4, 2 and 1. One swap of a pair of
 * rows (x above, y below) is two two-vector selects: x takes its own lanes of the even blocks and
 * y's lanes of the odd ones shifted down by the block size, y the rest. C2 compiles each select to
 * one {@code vpermi2ps}: 64 of them for 256 floats, beside 16 loads and 16 stores.
 *
 * <p>why not gathers (one per step, a lane per row, as on narrower vectors): on a Zen 5 a 16-lane
 * gather costs about two cycles a float, and packing a plain A (then packed this way too) took half of attention's context
 * GEMM (with A's packing skipped, a timing-only build, it ran 2.1x as fast) and 16% of the FFN-up
 * input gradient. Packing a plain A, one thread, in L2: 0.41-0.51 ns a float with gathers,
 * 0.26-0.40 transposed in registers. Whole GEMMs (2 threads, old and new builds alternating in one
 * JVM against OpenBLAS, median calls): +5% to +15% on the six shapes tried, attention's context
 * +9%, the FFN-up input gradient +15% ({@code benchmarks/results/Gemm-probes-2026-11-27-2130.txt}).
 */
final class RegisterTranspose {
    /** The transpose needs 16-lane vectors; with fewer lanes the packing gathers instead. */
    static final boolean AVAILABLE = LANES == 16;
    /** Rows and steps of the block. */
    static final int SIZE = 16;

    // select indexes for each block size: lane l of LOW_b / HIGH_b picks from (x, y) = lanes 0-15, 16-31
    private static final FloatVector LOW_8 = indexes(8, false), HIGH_8 = indexes(8, true);
    private static final FloatVector LOW_4 = indexes(4, false), HIGH_4 = indexes(4, true);
    private static final FloatVector LOW_2 = indexes(2, false), HIGH_2 = indexes(2, true);
    private static final FloatVector LOW_1 = indexes(1, false), HIGH_1 = indexes(1, true);

    private RegisterTranspose() {}

    /**
     * The x row of a swap at block size b keeps its even blocks and takes y's lanes l - b in its odd
     * ones (x's lanes 0-15, y's 16-31); the y row takes x's lanes l + b in its even blocks and keeps
     * its odd ones. Null without 16-lane vectors (never used then).
     */
    private static FloatVector indexes(int b, boolean high) {
        if (!AVAILABLE) {
            return null;
        }
        float[] lanes = new float[SIZE];
        for (int l = 0; l < SIZE; l++) {
            boolean even = l / b % 2 == 0;
            lanes[l] = high ? (even ? l + b : SIZE + l) : (even ? l : SIZE + l - b);
        }
        return FloatVector.fromArray(SPECIES, lanes, 0);
    }

    /**
     * Steps [p, p+16) of source rows 0 .. 15, row i from {@code src[row + i * ld]}, into {@code dst}:
     * step p+t at float {@code to + t * width}, as 16 lanes.
     */
    static void transpose(float[] src, int row, int ld, int p, float[] dst, int to, int width) {
        // (loads and stores written out: a helper taking or returning vectors, if not inlined, boxes them)
        int at = row + p;
        FloatVector v0 = FloatVector.fromArray(SPECIES, src, at), v1 = FloatVector.fromArray(SPECIES, src, at + ld);
        FloatVector v2 = FloatVector.fromArray(SPECIES, src, at + 2 * ld), v3 = FloatVector.fromArray(SPECIES, src, at + 3 * ld);
        FloatVector v4 = FloatVector.fromArray(SPECIES, src, at + 4 * ld), v5 = FloatVector.fromArray(SPECIES, src, at + 5 * ld);
        FloatVector v6 = FloatVector.fromArray(SPECIES, src, at + 6 * ld), v7 = FloatVector.fromArray(SPECIES, src, at + 7 * ld);
        FloatVector v8 = FloatVector.fromArray(SPECIES, src, at + 8 * ld), v9 = FloatVector.fromArray(SPECIES, src, at + 9 * ld);
        FloatVector v10 = FloatVector.fromArray(SPECIES, src, at + 10 * ld), v11 = FloatVector.fromArray(SPECIES, src, at + 11 * ld);
        FloatVector v12 = FloatVector.fromArray(SPECIES, src, at + 12 * ld), v13 = FloatVector.fromArray(SPECIES, src, at + 13 * ld);
        FloatVector v14 = FloatVector.fromArray(SPECIES, src, at + 14 * ld), v15 = FloatVector.fromArray(SPECIES, src, at + 15 * ld);
        FloatVector t;
        // blocks of 8: rows i and i + 8
        t = LOW_8.selectFrom(v0, v8); v8 = HIGH_8.selectFrom(v0, v8); v0 = t;
        t = LOW_8.selectFrom(v1, v9); v9 = HIGH_8.selectFrom(v1, v9); v1 = t;
        t = LOW_8.selectFrom(v2, v10); v10 = HIGH_8.selectFrom(v2, v10); v2 = t;
        t = LOW_8.selectFrom(v3, v11); v11 = HIGH_8.selectFrom(v3, v11); v3 = t;
        t = LOW_8.selectFrom(v4, v12); v12 = HIGH_8.selectFrom(v4, v12); v4 = t;
        t = LOW_8.selectFrom(v5, v13); v13 = HIGH_8.selectFrom(v5, v13); v5 = t;
        t = LOW_8.selectFrom(v6, v14); v14 = HIGH_8.selectFrom(v6, v14); v6 = t;
        t = LOW_8.selectFrom(v7, v15); v15 = HIGH_8.selectFrom(v7, v15); v7 = t;
        // blocks of 4: rows i and i + 4 inside each half
        t = LOW_4.selectFrom(v0, v4); v4 = HIGH_4.selectFrom(v0, v4); v0 = t;
        t = LOW_4.selectFrom(v1, v5); v5 = HIGH_4.selectFrom(v1, v5); v1 = t;
        t = LOW_4.selectFrom(v2, v6); v6 = HIGH_4.selectFrom(v2, v6); v2 = t;
        t = LOW_4.selectFrom(v3, v7); v7 = HIGH_4.selectFrom(v3, v7); v3 = t;
        t = LOW_4.selectFrom(v8, v12); v12 = HIGH_4.selectFrom(v8, v12); v8 = t;
        t = LOW_4.selectFrom(v9, v13); v13 = HIGH_4.selectFrom(v9, v13); v9 = t;
        t = LOW_4.selectFrom(v10, v14); v14 = HIGH_4.selectFrom(v10, v14); v10 = t;
        t = LOW_4.selectFrom(v11, v15); v15 = HIGH_4.selectFrom(v11, v15); v11 = t;
        // blocks of 2: rows i and i + 2
        t = LOW_2.selectFrom(v0, v2); v2 = HIGH_2.selectFrom(v0, v2); v0 = t;
        t = LOW_2.selectFrom(v1, v3); v3 = HIGH_2.selectFrom(v1, v3); v1 = t;
        t = LOW_2.selectFrom(v4, v6); v6 = HIGH_2.selectFrom(v4, v6); v4 = t;
        t = LOW_2.selectFrom(v5, v7); v7 = HIGH_2.selectFrom(v5, v7); v5 = t;
        t = LOW_2.selectFrom(v8, v10); v10 = HIGH_2.selectFrom(v8, v10); v8 = t;
        t = LOW_2.selectFrom(v9, v11); v11 = HIGH_2.selectFrom(v9, v11); v9 = t;
        t = LOW_2.selectFrom(v12, v14); v14 = HIGH_2.selectFrom(v12, v14); v12 = t;
        t = LOW_2.selectFrom(v13, v15); v15 = HIGH_2.selectFrom(v13, v15); v13 = t;
        // blocks of 1: rows i and i + 1
        t = LOW_1.selectFrom(v0, v1); v1 = HIGH_1.selectFrom(v0, v1); v0 = t;
        t = LOW_1.selectFrom(v2, v3); v3 = HIGH_1.selectFrom(v2, v3); v2 = t;
        t = LOW_1.selectFrom(v4, v5); v5 = HIGH_1.selectFrom(v4, v5); v4 = t;
        t = LOW_1.selectFrom(v6, v7); v7 = HIGH_1.selectFrom(v6, v7); v6 = t;
        t = LOW_1.selectFrom(v8, v9); v9 = HIGH_1.selectFrom(v8, v9); v8 = t;
        t = LOW_1.selectFrom(v10, v11); v11 = HIGH_1.selectFrom(v10, v11); v10 = t;
        t = LOW_1.selectFrom(v12, v13); v13 = HIGH_1.selectFrom(v12, v13); v12 = t;
        t = LOW_1.selectFrom(v14, v15); v15 = HIGH_1.selectFrom(v14, v15); v14 = t;
        // now v_t is step p + t
        v0.intoArray(dst, to + 0 * width);
        v1.intoArray(dst, to + 1 * width);
        v2.intoArray(dst, to + 2 * width);
        v3.intoArray(dst, to + 3 * width);
        v4.intoArray(dst, to + 4 * width);
        v5.intoArray(dst, to + 5 * width);
        v6.intoArray(dst, to + 6 * width);
        v7.intoArray(dst, to + 7 * width);
        v8.intoArray(dst, to + 8 * width);
        v9.intoArray(dst, to + 9 * width);
        v10.intoArray(dst, to + 10 * width);
        v11.intoArray(dst, to + 11 * width);
        v12.intoArray(dst, to + 12 * width);
        v13.intoArray(dst, to + 13 * width);
        v14.intoArray(dst, to + 14 * width);
        v15.intoArray(dst, to + 15 * width);
    }
}
