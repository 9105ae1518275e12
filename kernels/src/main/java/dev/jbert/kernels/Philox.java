package dev.jbert.kernels;

/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
 * counter-based generator. Random bits are a pure function of (key, counter), so element
 * {@code i} of a dropout mask can be computed by any thread, on any backend, in any order, and
 * the backward pass can recompute the mask instead of storing it.
 *
 * <p>jbert's use: key = the 64-bit seed, counter = (i / 4 as 64 bits, stream as 64 bits); the
 * four 32-bit outputs serve elements {@code 4j .. 4j+3}. The stream separates the dropout sites of
 * a step (each layer and each step gets its own), so no two masks overlap.
 */
public final class Philox {
    private static final int MULTIPLIER_0 = 0xD2511F53;
    private static final int MULTIPLIER_1 = 0xCD9E8D57;
    private static final int WEYL_0 = 0x9E3779B9; // golden ratio
    private static final int WEYL_1 = 0xBB67AE85; // sqrt(3) - 1
    private static final int ROUNDS = 10;

    private Philox() {}

    /**
     * The 32 random bits for element {@code index}: lane {@code index % 4} of the block at counter
     * {@code (index / 4, stream)}.
     */
    public static int bits(long seed, long stream, long index) {
        int[] lanes = new int[4];
        block(seed, stream, index >>> 2, lanes);
        return lanes[(int) (index & 3)];
    }

    /** The four 32-bit outputs for counter {@code (block, stream)}: elements {@code 4 block .. 4 block + 3}. */
    public static void block(long seed, long stream, long block, int[] lanes) {
        generate((int) block, (int) (block >>> 32), (int) stream, (int) (stream >>> 32),
                (int) seed, (int) (seed >>> 32), lanes);
    }

    /** The bare function: 10 rounds over the 128-bit counter {@code c} with the 64-bit key {@code k}. */
    static void generate(int c0, int c1, int c2, int c3, int k0, int k1, int[] lanes) {
        for (int round = 0; round < ROUNDS; round++) {
            long product0 = (MULTIPLIER_0 & 0xFFFFFFFFL) * (c0 & 0xFFFFFFFFL);
            long product1 = (MULTIPLIER_1 & 0xFFFFFFFFL) * (c2 & 0xFFFFFFFFL);
            int hi0 = (int) (product0 >>> 32);
            int lo0 = (int) product0;
            int hi1 = (int) (product1 >>> 32);
            int lo1 = (int) product1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
            k0 += WEYL_0;
            k1 += WEYL_1;
        }
        lanes[0] = c0;
        lanes[1] = c1;
        lanes[2] = c2;
        lanes[3] = c3;
    }

    /** A uniform float in [0, 1) from the top 24 bits, exactly representable. */
    public static float uniform(int bits) {
        return (bits >>> 8) * 0x1.0p-24f;
    }

    /** Whether dropout with probability {@code p} keeps element {@code index}. */
    public static boolean keep(long seed, long stream, long index, float p) {
        return uniform(bits(seed, stream, index)) >= p;
    }
}
