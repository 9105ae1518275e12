package dev.jbert.core.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each of the model's tensors lives in one flat buffer of floats. The parameters, their
 * gradients and AdamW's two moments all use this layout, so the optimizer and gradient clipping
 * run over everything in one call, and the model hands each layer slices of the flat buffers.
 *
 * <p>Names are Hugging Face's ({@code bert.encoder.layer.3.attention.self.query.weight}, ...), so
 * saving and loading is a walk over this list. One departure in order: a layer's query, key and
 * value weights are placed back to back (then their three biases), which makes them one
 * {@code [3C, C]} matrix and one {@code [3C]} vector: the model projects Q, K and V with one GEMM.
 */
public final class ParameterLayout {
    /**
     * One tensor: HF name, shape, first element in the flat buffer, and whether AdamW applies
     * weight decay to it (not to biases and LayerNorm parameters, as HF's run_qa does).
     */
    public record Tensor(String name, int[] shape, int offset, boolean decay) {
        public int size() {
            int size = 1;
            for (int dim : shape) {
                size *= dim;
            }
            return size;
        }
    }

    /**
     * The parameters of one part of the model, contiguous in the buffer: {@code embeddings},
     * {@code layer_0} .. {@code layer_N-1} (the encoder layers), or {@code qa_head}. The training
     * dynamics measure norms one group at a time, each over one slice.
     */
    public record Group(String name, int offset, int size) {}

    private final BertConfig config;
    private final List<Tensor> tensors = new ArrayList<>();
    private final List<Group> groups = new ArrayList<>();
    private final Map<String, Tensor> byName = new LinkedHashMap<>();
    private int size;

    public ParameterLayout(BertConfig config) {
        this.config = config;
        int c = config.hiddenSize();
        int i = config.intermediateSize();
        String embeddings = "bert.embeddings.";
        add(embeddings + "word_embeddings.weight", true, config.vocabSize(), c);
        add(embeddings + "position_embeddings.weight", true, config.maxPositions(), c);
        add(embeddings + "token_type_embeddings.weight", true, config.typeVocabSize(), c);
        add(embeddings + "LayerNorm.weight", false, c);
        add(embeddings + "LayerNorm.bias", false, c);
        endGroup("embeddings");
        for (int layer = 0; layer < config.layers(); layer++) {
            String prefix = layerPrefix(layer);
            add(prefix + "attention.self.query.weight", true, c, c);
            add(prefix + "attention.self.key.weight", true, c, c);
            add(prefix + "attention.self.value.weight", true, c, c);
            add(prefix + "attention.self.query.bias", false, c);
            add(prefix + "attention.self.key.bias", false, c);
            add(prefix + "attention.self.value.bias", false, c);
            add(prefix + "attention.output.dense.weight", true, c, c);
            add(prefix + "attention.output.dense.bias", false, c);
            add(prefix + "attention.output.LayerNorm.weight", false, c);
            add(prefix + "attention.output.LayerNorm.bias", false, c);
            add(prefix + "intermediate.dense.weight", true, i, c);
            add(prefix + "intermediate.dense.bias", false, i);
            add(prefix + "output.dense.weight", true, c, i);
            add(prefix + "output.dense.bias", false, c);
            add(prefix + "output.LayerNorm.weight", false, c);
            add(prefix + "output.LayerNorm.bias", false, c);
            endGroup("layer_" + layer);
        }
        add("qa_outputs.weight", true, 2, c);
        add("qa_outputs.bias", false, 2);
        endGroup("qa_head");
    }

    static String layerPrefix(int layer) {
        return "bert.encoder.layer." + layer + ".";
    }

    private void add(String name, boolean decay, int... shape) {
        Tensor tensor = new Tensor(name, shape, size, decay);
        tensors.add(tensor);
        byName.put(name, tensor);
        size = Math.addExact(size, tensor.size());
    }

    /** Closes a group: the tensors added since the previous one. */
    private void endGroup(String name) {
        int offset = groups.isEmpty() ? 0 : groups.getLast().offset() + groups.getLast().size();
        groups.add(new Group(name, offset, size - offset));
    }

    public BertConfig config() {
        return config;
    }

    /** Every tensor, in buffer order. */
    public List<Tensor> tensors() {
        return Collections.unmodifiableList(tensors);
    }

    /** The embeddings, each encoder layer and the QA head, in buffer order; together they cover it. */
    public List<Group> groups() {
        return Collections.unmodifiableList(groups);
    }

    /** The tensor with this HF name, or null. */
    public Tensor get(String name) {
        return byName.get(name);
    }

    /** Floats in the whole buffer: 109,483,778 for bert-base with the QA head. */
    public int size() {
        return size;
    }
}
