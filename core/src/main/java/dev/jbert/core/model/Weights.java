package dev.jbert.core.model;

import dev.jbert.kernels.Buffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Named views of one flat buffer laid out by {@link ParameterLayout}: the model's parameters, or
 * their gradients (same layout, so {@code grads.layers().get(3).qkvWeight()} is the gradient of
 * {@code params.layers().get(3).qkvWeight()}). Shapes use C = hidden size, I = intermediate size.
 */
public final class Weights {
    /** word [vocab, C], position [maxPositions, C], tokenType [types, C], LayerNorm [C]. */
    public record Embeddings(Buffer word, Buffer position, Buffer tokenType, Buffer normGamma, Buffer normBeta) {}

    /**
     * One encoder layer. qkvWeight [3C, C] is query, key and value stacked (HF's three [C, C]
     * weights), qkvBias [3C]; attentionOut [C, C]; ffnIn [I, C]; ffnOut [C, I]; LayerNorms [C].
     */
    public record Layer(
            Buffer qkvWeight, Buffer qkvBias,
            Buffer attentionOutWeight, Buffer attentionOutBias,
            Buffer attentionNormGamma, Buffer attentionNormBeta,
            Buffer ffnInWeight, Buffer ffnInBias,
            Buffer ffnOutWeight, Buffer ffnOutBias,
            Buffer outputNormGamma, Buffer outputNormBeta) {}

    /** qa_outputs: weight [2, C] (row 0 scores starts, row 1 ends), bias [2]. */
    public record QaHead(Buffer weight, Buffer bias) {}

    private final Buffer all;
    private final Embeddings embeddings;
    private final List<Layer> layers = new ArrayList<>();
    private final QaHead qaHead;

    public Weights(ParameterLayout layout, Buffer all) {
        if (all.length() != layout.size()) {
            throw new IllegalArgumentException("buffer of " + all.length() + " floats for a layout of " + layout.size());
        }
        this.all = all;
        String e = "bert.embeddings.";
        this.embeddings = new Embeddings(
                slice(layout, e + "word_embeddings.weight", 1),
                slice(layout, e + "position_embeddings.weight", 1),
                slice(layout, e + "token_type_embeddings.weight", 1),
                slice(layout, e + "LayerNorm.weight", 1),
                slice(layout, e + "LayerNorm.bias", 1));
        for (int layer = 0; layer < layout.config().layers(); layer++) {
            String p = ParameterLayout.layerPrefix(layer);
            layers.add(new Layer(
                    slice(layout, p + "attention.self.query.weight", 3), // query, key, value: adjacent
                    slice(layout, p + "attention.self.query.bias", 3),
                    slice(layout, p + "attention.output.dense.weight", 1),
                    slice(layout, p + "attention.output.dense.bias", 1),
                    slice(layout, p + "attention.output.LayerNorm.weight", 1),
                    slice(layout, p + "attention.output.LayerNorm.bias", 1),
                    slice(layout, p + "intermediate.dense.weight", 1),
                    slice(layout, p + "intermediate.dense.bias", 1),
                    slice(layout, p + "output.dense.weight", 1),
                    slice(layout, p + "output.dense.bias", 1),
                    slice(layout, p + "output.LayerNorm.weight", 1),
                    slice(layout, p + "output.LayerNorm.bias", 1)));
        }
        this.qaHead = new QaHead(slice(layout, "qa_outputs.weight", 1), slice(layout, "qa_outputs.bias", 1));
    }

    /** {@code count} tensors of the same size starting at {@code name}, as one slice. */
    private Buffer slice(ParameterLayout layout, String name, int count) {
        ParameterLayout.Tensor tensor = layout.get(name);
        return all.slice(tensor.offset(), count * tensor.size());
    }

    /** The whole flat buffer. */
    public Buffer all() {
        return all;
    }

    public Embeddings embeddings() {
        return embeddings;
    }

    public List<Layer> layers() {
        return layers;
    }

    public QaHead qaHead() {
        return qaHead;
    }
}
