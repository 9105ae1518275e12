package dev.jbert.core.model;

import dev.jbert.kernels.Buffer;

/**
 * Sees every tensor {@link BertQa} computes, in the order it computes them, right after each op
 * (set with {@link BertQa#observe}; {@code jbert trace} uses one). Scratch buffers that every layer
 * reuses ({@code dense}, {@code qkv}, {@code dSum}...) are shown while they hold that layer's values,
 * so the observer must read {@code values} before it returns: the next op may overwrite them.
 *
 * <p>Without an observer the model pays one null check per op.
 */
@FunctionalInterface
public interface ActivationObserver {
    /**
     * @param name   the buffer's name in {@link Activations}, with the stage in parentheses when one
     *               buffer holds several in turn ({@code "probs (scores)"}, then {@code "probs"}); for
     *               parameter gradients, the parameter's Hugging Face name
     * @param layer  the encoder layer, or -1 outside the layers (embeddings, QA head)
     * @param values the buffer, valid until this call returns
     * @param shape  its dimensions, outermost first
     * @param axes   what each dimension is, e.g. {@code "B H T T"} (B batch, T tokens, H heads,
     *               D head size, C hidden, I intermediate; a number is itself); null for parameters,
     *               whose shape is Hugging Face's
     */
    void observe(String name, int layer, Buffer values, int[] shape, String axes);
}
