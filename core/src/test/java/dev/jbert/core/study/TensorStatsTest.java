package dev.jbert.core.study;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class TensorStatsTest {
    @Test
    void meanStdExtremesAndZeros() {
        TensorStats s = TensorStats.of(new float[] {0, 1, 2, 3, 0, -1});
        assertEquals(6, s.count());
        assertEquals(5.0 / 6, s.mean(), 1e-15);
        // population std: sqrt(mean of squares - mean^2) = sqrt(15/6 - 25/36)
        assertEquals(Math.sqrt(15.0 / 6 - 25.0 / 36), s.std(), 1e-15);
        assertEquals(-1f, s.min());
        assertEquals(3f, s.max());
        assertEquals(2.0 / 6, s.zeroFraction(), 1e-15);
    }

    @Test
    void aLargeOffsetDoesNotCancelTheSpread() {
        // float values 1e6 + {0, 1}: a one-pass sum of squares in float would lose the spread
        TensorStats s = TensorStats.of(new float[] {1e6f, 1e6f + 1, 1e6f, 1e6f + 1});
        assertEquals(0.5, s.std(), 1e-12);
        assertEquals(0.0, s.zeroFraction());
    }
}
