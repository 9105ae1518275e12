package dev.jbert.core.train;

import dev.jbert.core.model.Batch;
import dev.jbert.core.qa.Answerer;
import dev.jbert.core.squad.TrainingFeature;
import dev.jbert.tokenizer.Window;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Labelled windows into batches: each batch padded to its own longest window (the notebook's
 * dynamic padding), and a fresh shuffle per epoch that depends only on the seed and the epoch, so
 * a resumed run sees the same order.
 */
public final class FeatureBatches {
    private FeatureBatches() {}

    /** The features in their own order: {@code 0, 1, ..., features - 1} (evaluation). */
    public static int[] inputOrder(int features) {
        int[] order = new int[features];
        for (int i = 0; i < features; i++) {
            order[i] = i;
        }
        return order;
    }

    /** The order of the features in {@code epoch} (from 0): a Fisher-Yates shuffle seeded by (seed, epoch). */
    public static int[] order(int features, long seed, int epoch) {
        SplittableRandom random = new SplittableRandom(seed * 1_000_003L + epoch);
        int[] order = inputOrder(features);
        for (int i = features - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        return order;
    }

    /** The batch of {@code features[order[from .. to)]}, padded to its longest window, with labels. */
    public static Batch batch(List<TrainingFeature> features, int[] order, int from, int to) {
        List<Window> windows = new ArrayList<>(to - from);
        int[] starts = new int[to - from];
        int[] ends = new int[to - from];
        for (int i = from; i < to; i++) {
            TrainingFeature feature = features.get(order[i]);
            windows.add(feature.window());
            starts[i - from] = feature.startPosition();
            ends[i - from] = feature.endPosition();
        }
        Batch padded = Answerer.batchOf(windows);
        return new Batch(padded.size(), padded.tokens(), padded.inputIds(), padded.tokenTypeIds(),
                padded.attentionMask(), starts, ends);
    }
}
