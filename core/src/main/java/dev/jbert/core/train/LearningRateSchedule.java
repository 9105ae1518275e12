package dev.jbert.core.train;

/**
 * Linear warmup, then linear decay to 0, over the optimizer steps of training (and only those: the
 * reference notebook counted validation batches too). The same function as HF's
 * {@code get_linear_schedule_with_warmup}: update {@code k} (from 0) uses
 * {@code peak * k / warmup} while {@code k < warmup}, then {@code peak * (total - k) / (total - warmup)}.
 * So with warmup the very first update has rate 0, exactly as in HF.
 */
public record LearningRateSchedule(float peak, int warmupSteps, int totalSteps) {
    public LearningRateSchedule {
        if (totalSteps < 1 || warmupSteps < 0 || warmupSteps > totalSteps) {
            throw new IllegalArgumentException("a schedule needs 0 <= warmup <= total and total >= 1, got "
                    + warmupSteps + " and " + totalSteps);
        }
    }

    /** HF's warmup from a ratio: {@code ceil(ratio * total)} steps. */
    public static LearningRateSchedule withWarmupRatio(float peak, double warmupRatio, int totalSteps) {
        return new LearningRateSchedule(peak, (int) Math.ceil(warmupRatio * totalSteps), totalSteps);
    }

    /** The learning rate of update {@code step}, counted from 0. */
    public float rate(int step) {
        if (step < warmupSteps) {
            return peak * step / Math.max(1, warmupSteps);
        }
        return peak * Math.max(0f, (float) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    }
}
