package dev.jbert.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jbert.core.io.ModelFileException;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The shape of a BERT model, as Hugging Face's {@code config.json} gives it. bert-base-uncased is
 * 30522 / 768 / 12 layers / 12 heads / 3072, with 512 positions and 2 token types.
 */
public record BertConfig(
        int vocabSize,
        int hiddenSize,
        int layers,
        int heads,
        int intermediateSize,
        int maxPositions,
        int typeVocabSize,
        float hiddenDropout,
        float attentionDropout,
        float layerNormEps,
        float initializerRange) {

    public BertConfig {
        requirePositive(vocabSize, "vocab_size");
        requirePositive(hiddenSize, "hidden_size");
        requirePositive(layers, "num_hidden_layers");
        requirePositive(heads, "num_attention_heads");
        requirePositive(intermediateSize, "intermediate_size");
        requirePositive(maxPositions, "max_position_embeddings");
        requirePositive(typeVocabSize, "type_vocab_size");
        if (hiddenSize % heads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + heads);
        }
        requireProbability(hiddenDropout, "hidden_dropout_prob");
        requireProbability(attentionDropout, "attention_probs_dropout_prob");
        if (!(layerNormEps > 0)) {
            throw new IllegalArgumentException("layer_norm_eps must be positive, got " + layerNormEps);
        }
        if (!(initializerRange > 0)) {
            throw new IllegalArgumentException("initializer_range must be positive, got " + initializerRange);
        }
    }

    /** bert-base-uncased. */
    public static BertConfig bertBase() {
        return new BertConfig(30522, 768, 12, 12, 3072, 512, 2, 0.1f, 0.1f, 1e-12f, 0.02f);
    }

    /** The width of one attention head: 64 for bert-base. */
    public int headDim() {
        return hiddenSize / heads;
    }

    /** Reads an HF {@code config.json}; errors name the file and the field. */
    public static BertConfig read(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (NoSuchFileException e) {
            throw new ModelFileException(file + ": no such file");
        } catch (IOException e) {
            if (!file.toFile().exists()) {
                throw new ModelFileException(file + ": no such file");
            }
            throw new ModelFileException(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (root == null || !root.isObject()) {
            throw new ModelFileException(file + ": not a JSON object");
        }
        String activation = root.path("hidden_act").asText("gelu");
        if (!activation.equals("gelu")) {
            throw new ModelFileException(file + ": hidden_act is \"" + activation + "\"; jbert implements \"gelu\" (the erf form) only");
        }
        BertConfig defaults = bertBase();
        try {
            return new BertConfig(
                    intField(file, root, "vocab_size", defaults.vocabSize),
                    intField(file, root, "hidden_size", defaults.hiddenSize),
                    intField(file, root, "num_hidden_layers", defaults.layers),
                    intField(file, root, "num_attention_heads", defaults.heads),
                    intField(file, root, "intermediate_size", defaults.intermediateSize),
                    intField(file, root, "max_position_embeddings", defaults.maxPositions),
                    intField(file, root, "type_vocab_size", defaults.typeVocabSize),
                    floatField(file, root, "hidden_dropout_prob", defaults.hiddenDropout),
                    floatField(file, root, "attention_probs_dropout_prob", defaults.attentionDropout),
                    floatField(file, root, "layer_norm_eps", defaults.layerNormEps),
                    floatField(file, root, "initializer_range", defaults.initializerRange));
        } catch (IllegalArgumentException e) {
            throw new ModelFileException(file + ": " + e.getMessage());
        }
    }

    /** The config as HF writes it, so that {@code from_pretrained} reads a jbert checkpoint. */
    public String toJson() {
        ObjectNode root = new ObjectMapper().createObjectNode();
        root.putArray("architectures").add("BertForQuestionAnswering");
        root.put("model_type", "bert");
        root.put("vocab_size", vocabSize);
        root.put("hidden_size", hiddenSize);
        root.put("num_hidden_layers", layers);
        root.put("num_attention_heads", heads);
        root.put("intermediate_size", intermediateSize);
        root.put("hidden_act", "gelu");
        root.put("hidden_dropout_prob", hiddenDropout);
        root.put("attention_probs_dropout_prob", attentionDropout);
        root.put("max_position_embeddings", maxPositions);
        root.put("type_vocab_size", typeVocabSize);
        root.put("initializer_range", initializerRange);
        root.put("layer_norm_eps", layerNormEps);
        root.put("position_embedding_type", "absolute");
        root.put("pad_token_id", 0);
        return root.toPrettyString() + "\n";
    }

    private static int intField(Path file, JsonNode root, String name, int fallback) {
        JsonNode node = root.get(name);
        if (node == null) {
            return fallback;
        }
        if (!node.isIntegralNumber() || !node.canConvertToInt()) {
            throw new ModelFileException(file + ": " + name + " must be an integer, got " + node);
        }
        return node.asInt();
    }

    private static float floatField(Path file, JsonNode root, String name, float fallback) {
        JsonNode node = root.get(name);
        if (node == null) {
            return fallback;
        }
        if (!node.isNumber()) {
            throw new ModelFileException(file + ": " + name + " must be a number, got " + node);
        }
        return node.floatValue();
    }

    private static void requirePositive(int value, String name) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
    }

    private static void requireProbability(float value, String name) {
        if (!(value >= 0 && value < 1)) {
            throw new IllegalArgumentException(name + " must be in [0, 1), got " + value);
        }
    }
}
