package dev.jbert.core.model;

import dev.jbert.core.io.FloatSource;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Hugging Face's {@code _init_weights} for BERT: weights and embeddings from a normal
 * distribution with std {@code initializer_range} (0.02), biases 0, LayerNorm gamma 1 and beta 0,
 * and the [PAD] embedding 0.
 * Used for a model trained from scratch and for a QA head missing from a pretrained encoder.
 */
final class ParameterInit {
    private ParameterInit() {}

    /**
     * Initial values of one tensor, drawn from {@code random} when it is a weight. The draws happen
     * as the source is read, element by element in order, so a tensor read in chunks gets the same
     * values as one read whole.
     */
    static FloatSource initialValues(ParameterLayout.Tensor tensor, float initializerRange, SplittableRandom random) {
        String name = tensor.name();
        if (name.endsWith("LayerNorm.weight")) {
            return (first, into, count) -> Arrays.fill(into, 0, count, 1f);
        }
        if (name.endsWith(".bias")) {
            return (first, into, count) -> Arrays.fill(into, 0, count, 0f);
        }
        // [PAD] (id 0, HF's padding_idx) starts as a zero vector; its draws are still taken
        long padEnd = name.endsWith("word_embeddings.weight") ? tensor.shape()[1] : 0;
        return (first, into, count) -> {
            for (int i = 0; i < count; i++) {
                float value = (float) (random.nextGaussian() * initializerRange);
                into[i] = first + i < padEnd ? 0f : value;
            }
        };
    }
}
