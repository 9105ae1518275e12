package dev.jbert.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PhiloxTest {
    /** The known-answer vectors of Random123 (kat_vectors, philox4x32_10). */
    @Test
    void matchesRandom123KnownAnswers() {
        assertBlock(new int[] {0, 0, 0, 0}, new int[] {0, 0},
                new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
        assertBlock(new int[] {-1, -1, -1, -1}, new int[] {-1, -1},
                new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
        assertBlock(new int[] {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, new int[] {0xa4093822, 0x299f31d0},
                new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
    }

    private static void assertBlock(int[] counter, int[] key, int[] expected) {
        int[] lanes = new int[4];
        Philox.generate(counter[0], counter[1], counter[2], counter[3], key[0], key[1], lanes);
        assertArrayEquals(expected, lanes);
    }

    @Test
    void elementsOfATileTakeOneOutputOfEightBlocks() {
        int[] lanes = new int[4];
        long seed = 0x1234_5678_9abc_def0L;
        long stream = 77;
        long tile = 5;
        for (int b = 0; b < 8; b++) {
            Philox.block(seed, stream, tile * 8 + b, lanes);
            for (int j = 0; j < 4; j++) {
                assertEquals(lanes[j], Philox.bits(seed, stream, tile * 32 + j * 8 + b), "block " + b + " output " + j);
            }
        }
    }

    @Test
    void theIntegerThresholdAgreesWithTheUniformFloat() {
        for (float p : new float[] {0, 0.1f, 0.5f, 0.3333f, 0.999f}) {
            int threshold = Philox.keepThreshold(p);
            for (int bits : new int[] {0, (threshold - 1) << 8, threshold << 8, (threshold << 8) | 0xFF, -1}) {
                assertEquals(Philox.uniform(bits) >= p, bits >>> 8 >= threshold, "p " + p + " bits " + bits);
            }
        }
    }

    @Test
    void dropoutKeepsAboutOneMinusP() {
        int n = 200_000;
        int kept = 0;
        for (int i = 0; i < n; i++) {
            kept += Philox.keep(42, 1, i, 0.1f) ? 1 : 0;
        }
        // binomial: mean 0.9 n, standard deviation sqrt(n 0.9 0.1) = 134; allow 5 of them
        assertTrue(Math.abs(kept - 0.9 * n) < 5 * 134, "kept " + kept + " of " + n);
        int sameAcrossStreams = 0;
        for (int i = 0; i < 1000; i++) {
            sameAcrossStreams += Philox.bits(42, 1, i) == Philox.bits(42, 2, i) ? 1 : 0;
        }
        assertEquals(0, sameAcrossStreams, "streams give independent bits");
    }
}
