package dev.jbert.core.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The schedule against HF's get_linear_schedule_with_warmup, computed by hand. */
class LearningRateScheduleTest {
    @Test
    void warmsUpLinearlyThenDecaysToZero() {
        LearningRateSchedule schedule = LearningRateSchedule.withWarmupRatio(1e-4f, 0.1, 100);
        assertEquals(10, schedule.warmupSteps()); // ceil(0.1 * 100)
        assertEquals(0, schedule.rate(0), 0); // HF's first update has rate 0
        assertEquals(5e-5, schedule.rate(5), 1e-11);
        assertEquals(1e-4, schedule.rate(10), 1e-11);
        assertEquals(5e-5, schedule.rate(55), 1e-11);
        assertEquals(1e-4 / 90, schedule.rate(99), 1e-11); // (100 - 99) / (100 - 10) of the peak
        assertEquals(0, schedule.rate(100), 0);
    }

    @Test
    void withoutWarmupStartsAtThePeak() {
        LearningRateSchedule schedule = LearningRateSchedule.withWarmupRatio(2e-5f, 0, 7);
        assertEquals(2e-5, schedule.rate(0), 1e-11);
        assertEquals(2e-5 / 7, schedule.rate(6), 1e-11);
    }
}
