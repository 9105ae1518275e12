package dev.jbert.core.model;

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

    /** Initial values of one tensor, drawn from {@code random} when it is a weight. */
    static float[] initialValues(ParameterLayout.Tensor tensor, float initializerRange, SplittableRandom random) {
        float[] values = new float[tensor.size()];
        String name = tensor.name();
        if (name.endsWith("LayerNorm.weight")) {
            Arrays.fill(values, 1f);
        } else if (!name.endsWith(".bias")) {
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (random.nextGaussian() * initializerRange);
            }
            if (name.endsWith("word_embeddings.weight")) {
                // [PAD] (id 0, HF's padding_idx) starts as a zero vector
                Arrays.fill(values, 0, tensor.shape()[1], 0f);
            }
        }
        return values;
    }
}
