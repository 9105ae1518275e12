package dev.jbert.kernels.cpu;

import dev.jbert.kernels.Philox;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Inverted dropout with {@link Philox}'s mask: {@code y = keep ? x / (1 - p) : 0}.
 *
 * <p>The vector path computes a tile of 32 elements at once: its 8 Philox blocks side by side in
 * the 8 lanes of 64-bit vectors (each lane holds one 32-bit word; a 64-bit multiply gives the
 * 32x32 product whose high and low halves Philox needs). Output word j of the 8 blocks decides
 * elements {@code 8j .. 8j+7} of the tile. Without 8-lane long vectors (or with SIMD off) the
 * same tiles are computed one block at a time.
 *
 * <p>why two words share a long lane before the floats are masked: deciding 8 floats straight from
 * the 8 long lanes takes 256-bit float vectors, and no kernel may use a float shape other than
 * {@link Simd#FLOATS}. This one did, and the GELU then boxed its vectors in some runs (see
 * {@link Simd}). Narrowing the longs to ints one by one instead made the dropout 22% slower.
 */
final class DropoutKernel {
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_512;
    private static final long LOW32 = 0xFFFF_FFFFL;

    private final Parallel parallel;
    private final boolean vectors;
    /**
     * Two words side by side in a long lane, seen as ints, [a0, b0, a1, b1, ..]: this shuffle puts
     * them in element order, [a0, a1, .., b0, b1, ..].
     */
    private static final VectorShuffle<Integer> ELEMENT_ORDER = VectorShuffle.fromOp(Simd.INTS,
            i -> i < Simd.INTS.length() / 2 ? 2 * i : 2 * (i - Simd.INTS.length() / 2) + 1);

    /** Per thread: one Philox block's 4 words (scalar path), or one tile's 32 (vector path). */
    private record Scratch(int[] lanes, int[] words) {}
    private final ThreadLocal<Scratch> scratch =
            ThreadLocal.withInitial(() -> new Scratch(new int[4], new int[Philox.TILE]));

    DropoutKernel(Parallel parallel, Simd simd) {
        this.parallel = parallel;
        // 8 long lanes must be native: an emulated 512-bit vector would be far slower than scalar code
        // (then ints have 16 lanes: two long vectors' words fill one int vector)
        this.vectors = simd.enabled() && LongVector.SPECIES_PREFERRED.length() >= Philox.BLOCKS_PER_TILE
                && Simd.INTS.length() == 2 * Philox.BLOCKS_PER_TILE;
    }

    void dropout(CpuBuffer x, CpuBuffer y, float p, long seed, long stream) {
        // ranges of whole tiles (the grain is a multiple of 32), so no tile's block is drawn twice
        parallel.parallelForRanges(x.length(), ElementwiseKernels.GRAIN, (first, last) -> range(x, y, first, last, p, seed, stream));
    }

    /**
     * Elements [first, last) of the same dropout, on the calling thread. (The fused attention ops
     * draw the mask this way a block of rows, or one head's [T, T], at a time, while it is in cache.)
     */
    void range(CpuBuffer x, CpuBuffer y, int first, int last, float p, long seed, long stream) {
        range(x.floats, x.offset, y.floats, y.offset, first, last, p, seed, stream);
    }

    /**
     * Elements [first, last) of a dropout over a tensor whose element i is read from
     * {@code xs[xBase + i]} and written to {@code ys[yBase + i]} (a base may be negative: a block
     * that holds only elements from {@code first} on). Whole tiles with vectors; elements of a tile
     * cut by first or last one by one, so a range may start and end anywhere.
     */
    void range(float[] xs, int xBase, float[] ys, int yBase, int first, int last, float p, long seed, long stream) {
        float scale = 1 / (1 - p);
        int threshold = Philox.keepThreshold(p);
        Scratch own = scratch.get();
        int[] lanes = own.lanes();
        int[] words = own.words();
        for (int tileStart = first - first % Philox.TILE; tileStart < last; tileStart += Philox.TILE) {
            long tile = tileStart / Philox.TILE;
            if (vectors && tileStart >= first && tileStart + Philox.TILE <= last) {
                vectorTile(xs, xBase + tileStart, ys, yBase + tileStart, seed, stream, tile, threshold, scale, words);
                continue;
            }
            for (int b = 0; b < Philox.BLOCKS_PER_TILE; b++) {
                Philox.block(seed, stream, tile * Philox.BLOCKS_PER_TILE + b, lanes);
                for (int j = 0; j < 4; j++) {
                    int i = tileStart + j * Philox.BLOCKS_PER_TILE + b;
                    if (i >= first && i < last) {
                        boolean keep = lanes[j] >>> 8 >= threshold;
                        ys[yBase + i] = keep ? xs[xBase + i] * scale : 0f;
                    }
                }
            }
        }
    }

    /**
     * One full tile of 32 elements from {@code xs[from]} to {@code ys[to]}; {@code words} (32 ints)
     * holds the tile's Philox output between the two halves. (Not vectors passed to a helper: see
     * {@link Simd#exp} for why.)
     */
    private static void vectorTile(float[] xs, int from, float[] ys, int to, long seed, long stream, long tile,
                                   int threshold, float scale, int[] words) {
        long firstBlock = tile * Philox.BLOCKS_PER_TILE;
        // counter words: c0 = block index (low 32 bits, one block per lane), c1 = its high bits,
        // c2 and c3 = the stream; firstBlock is a multiple of 8, so adding 0..7 never carries into c1
        LongVector c0 = LongVector.broadcast(LONGS, firstBlock & LOW32).add(LongVector.zero(LONGS).addIndex(1));
        LongVector c1 = LongVector.broadcast(LONGS, (firstBlock >>> 32) & LOW32);
        LongVector c2 = LongVector.broadcast(LONGS, stream & LOW32);
        LongVector c3 = LongVector.broadcast(LONGS, (stream >>> 32) & LOW32);
        long k0 = seed & LOW32;
        long k1 = (seed >>> 32) & LOW32;
        // both factors masked to 32 bits, so that C2 multiplies with VPMULUDQ (32 x 32 -> 64, one
        // uop) instead of VPMULLQ (64 x 64, three): it recognizes exactly this shape (JDK-8341137)
        LongVector multiplier0 = LongVector.broadcast(LONGS, Philox.MULTIPLIER_0).and(LOW32);
        LongVector multiplier1 = LongVector.broadcast(LONGS, Philox.MULTIPLIER_1).and(LOW32);
        for (int round = 0; round < Philox.ROUNDS; round++) {
            LongVector product0 = c0.and(LOW32).mul(multiplier0);
            LongVector product1 = c2.and(LOW32).mul(multiplier1);
            LongVector hi0 = product0.lanewise(VectorOperators.LSHR, 32);
            LongVector lo0 = product0.and(LOW32);
            LongVector hi1 = product1.lanewise(VectorOperators.LSHR, 32);
            LongVector lo1 = product1.and(LOW32);
            c0 = hi1.lanewise(VectorOperators.XOR, c1).lanewise(VectorOperators.XOR, k0);
            c1 = lo1;
            c2 = hi0.lanewise(VectorOperators.XOR, c3).lanewise(VectorOperators.XOR, k1);
            c3 = lo0;
            k0 = (k0 + (Philox.WEYL_0 & LOW32)) & LOW32;
            k1 = (k1 + (Philox.WEYL_1 & LOW32)) & LOW32;
        }
        // words 0-7 (c0's lanes) decide elements 0-7, c1's 8-15, c2's 16-23, c3's 24-31; every word
        // is under 2^32, so c0 | c1 << 32 holds two words per lane without overlap
        c0.or(c1.lanewise(VectorOperators.LSHL, 32)).reinterpretAsInts().rearrange(ELEMENT_ORDER).intoArray(words, 0);
        c2.or(c3.lanewise(VectorOperators.LSHL, 32)).reinterpretAsInts().rearrange(ELEMENT_ORDER)
                .intoArray(words, Philox.TILE / 2);
        for (int j = 0; j < Philox.TILE; j += Simd.LANES) {
            VectorMask<Float> keep = IntVector.fromArray(Simd.INTS, words, j).lanewise(VectorOperators.LSHR, 8)
                    .compare(VectorOperators.GE, threshold).cast(Simd.FLOATS);
            FloatVector.zero(Simd.FLOATS).blend(FloatVector.fromArray(Simd.FLOATS, xs, from + j).mul(scale), keep)
                    .intoArray(ys, to + j);
        }
    }
}
