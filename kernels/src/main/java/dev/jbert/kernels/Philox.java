package dev.jbert.kernels;

/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
 * counter-based generator. Random bits are a pure function of (key, counter), so element
 * {@code i} of a dropout mask can be computed by any thread, on any backend, in any order, and
 * the backward pass can recompute the mask instead of storing it.
 *
 * <p>jbert's use: key = the 64-bit seed, counter = (block as 64 bits, stream as 64 bits). Elements
 * come in tiles of 32: element {@code i} takes output {@code r / 8} of block {@code 8 t + r % 8},
 * where {@code t = i / 32} and {@code r = i % 32}. So the 8 blocks of a tile, computed side by side
 * in 8 vector lanes, give 8 consecutive elements per output: a CPU computes a tile with a few
 * vector instructions, and a GPU thread can just as well compute one block. The stream separates
 * the dropout sites of a step (each layer and each step gets its own), so no two masks overlap.
 */
public final class Philox {
    // the algorithm's constants, public for vectorized implementations
    public static final int MULTIPLIER_0 = 0xD2511F53;
    public static final int MULTIPLIER_1 = 0xCD9E8D57;
    public static final int WEYL_0 = 0x9E3779B9; // golden ratio
    public static final int WEYL_1 = 0xBB67AE85; // sqrt(3) - 1
    public static final int ROUNDS = 10;

    private Philox() {}

    /** Elements per tile, and blocks per tile (see the class comment). */
    public static final int TILE = 32;
    public static final int BLOCKS_PER_TILE = 8;

    /** The 32 random bits for element {@code index}. */
    public static int bits(long seed, long stream, long index) {
        long tile = index / TILE;
        int r = (int) (index % TILE);
        int[] lanes = new int[4];
        block(seed, stream, tile * BLOCKS_PER_TILE + r % BLOCKS_PER_TILE, lanes);
        return lanes[r / BLOCKS_PER_TILE];
    }

    /** The four 32-bit outputs of the block at counter {@code (block, stream)}. */
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

    /**
     * A uniform float in [0, 1) from the top 24 bits, exactly representable. (So
     * {@code uniform(bits) >= p} exactly when {@code bits >>> 8 >= keepThreshold(p)}: kernels may
     * compare integers.)
     */
    public static float uniform(int bits) {
        return (bits >>> 8) * 0x1.0p-24f;
    }

    /** Throws unless {@code p} is a dropout probability, in [0, 1). */
    public static void checkProbability(float p) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
    }

    /** The smallest 24-bit value whose uniform float is at least {@code p}. */
    public static int keepThreshold(float p) {
        return (int) Math.ceil(p * 0x1.0p24);
    }

    /** Whether dropout with probability {@code p} keeps element {@code index}. */
    public static boolean keep(long seed, long stream, long index, float p) {
        return uniform(bits(seed, stream, index)) >= p;
    }
}
