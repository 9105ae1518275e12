package dev.jbert.core.study;

import java.util.Arrays;

/**
 * One tensor as a trace saw it: its name in the code ({@code "probs"}, {@code "dSum (attentionNorm)"},
 * or a parameter's Hugging Face name for its gradient), the encoder layer (-1 outside the layers),
 * its shape with what each axis is ({@code "B H T T"}; null for parameters), and its statistics.
 */
public record TracedTensor(String name, int layer, int[] shape, String axes, TensorStats stats) {
    public TracedTensor {
        shape = shape.clone();
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    /** The shape as {@code [1, 12, 57, 57]}. */
    public String shapeText() {
        return Arrays.toString(shape);
    }
}
