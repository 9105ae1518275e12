package dev.jbert.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link CacheLines} reads real addresses (the tests run with native access, as jbert does) and aligns buffers by them. */
class CacheLinesTest {
    @Test
    void firstAlignedIndexStartsALine() {
        for (int size : new int[] {1, 17, 1000, 100_000, 4 << 20}) {
            float[] array = new float[size];
            long address = CacheLines.address(array);
            assertNotEquals(0, address, "address of a float[" + size + "] not read");
            assertEquals(0, address % Float.BYTES);
            int first = CacheLines.firstAlignedIndex(array);
            assertTrue(first >= 0 && first < CacheLines.FLOATS, "index " + first);
            assertEquals(0, (address + (long) first * Float.BYTES) % CacheLines.BYTES, "float[" + size + "]");
        }
    }

    @Test
    void aLargeArrayStaysWhereItIs() {
        float[] activations = new float[3072 * 768];  // a bert-base activation: half a G1 region or more
        long before = CacheLines.address(activations);
        System.gc();
        assertEquals(before, CacheLines.address(activations));
    }

    @Test
    void floatBuffersStartOnALine() {
        for (int length : new int[] {0, 5, 3072 * 768}) {
            CpuBuffer buffer = CpuBuffer.ofFloats(length);
            assertEquals(length, buffer.length());
            assertTrue(buffer.floats.length >= buffer.offset + length);
            assertEquals(0, (CacheLines.address(buffer.floats) + (long) buffer.offset * Float.BYTES) % CacheLines.BYTES);
        }
    }
}
