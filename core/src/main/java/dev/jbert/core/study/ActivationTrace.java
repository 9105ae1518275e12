package dev.jbert.core.study;

import dev.jbert.core.model.ActivationObserver;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An {@link ActivationObserver} that copies each tensor out of the backend as the model computes
 * it and keeps its {@link TensorStats}, in computation order. Only the statistics are kept: a
 * bert-base forward at 384 tokens holds about a gigabyte of activations.
 */
public final class ActivationTrace implements ActivationObserver {
    private final Backend backend;
    private final List<TracedTensor> tensors = new ArrayList<>();

    public ActivationTrace(Backend backend) {
        this.backend = backend;
    }

    @Override
    public void observe(String name, int layer, Buffer values, int[] shape, String axes) {
        if (Arrays.stream(shape).reduce(1, Math::multiplyExact) != values.length()) {
            throw new IllegalStateException(name + ": shape " + Arrays.toString(shape) + " for a buffer of "
                    + values.length() + " values");
        }
        float[] copy = new float[values.length()];
        backend.copyOut(values, copy);
        tensors.add(new TracedTensor(name, layer, shape, axes, TensorStats.of(copy)));
    }

    /** What was seen, in the order the model computed it. */
    public List<TracedTensor> tensors() {
        return List.copyOf(tensors);
    }
}
