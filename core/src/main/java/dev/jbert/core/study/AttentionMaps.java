package dev.jbert.core.study;

import dev.jbert.core.model.Batch;
import dev.jbert.core.model.BertQa;
import dev.jbert.tokenizer.Vocab;
import dev.jbert.tokenizer.Window;
import java.util.ArrayList;
import java.util.List;

/**
 * The attention probabilities of every layer and head over one window, as an eval forward pass
 * computes them, cut to the window's own tokens: {@code probabilities[layer][head]} is [L, L]
 * row-major, row q holding where query token q attends (each row sums to 1: padding keys get 0
 * from the softmax, so cutting them off loses nothing).
 *
 * @param source        what the maps are of, for titles: the model and the window
 * @param tokens        the window's WordPiece pieces, [CLS] and [SEP] included, length L
 * @param tokenTypeIds  0 for [CLS], the question and the first [SEP]; 1 for the context and the last [SEP]
 * @param special       whether each token is one the tokenizer added ([CLS], [SEP])
 */
public record AttentionMaps(String source, List<String> tokens, int[] tokenTypeIds, boolean[] special,
                            float[][][] probabilities) {

    /**
     * Runs an eval forward of {@code model} over {@code batch}, which holds {@code window} as sequence
     * {@code sequence} (padding, if any, after it), and keeps that window's maps.
     */
    public static AttentionMaps compute(BertQa model, Batch batch, int sequence, Window window, Vocab vocab, String source) {
        float[][] all = forward(model, batch);
        int layers = model.config().layers();
        int heads = model.config().heads();
        int t = batch.tokens();
        int length = window.length();
        float[][][] probabilities = new float[layers][heads][length * length];
        for (int layer = 0; layer < layers; layer++) {
            for (int head = 0; head < heads; head++) {
                for (int query = 0; query < length; query++) {
                    int from = ((sequence * heads + head) * t + query) * t;
                    System.arraycopy(all[layer], from, probabilities[layer][head], query * length, length);
                }
            }
        }
        List<String> tokens = new ArrayList<>(length);
        boolean[] special = new boolean[length];
        for (int i = 0; i < length; i++) {
            tokens.add(vocab.token(window.inputIds()[i]));
            special[i] = window.isSpecial(i);
        }
        return new AttentionMaps(source, List.copyOf(tokens), window.tokenTypeIds().clone(), special, probabilities);
    }

    /**
     * An eval forward over {@code batch} that copies out every layer's attention probabilities,
     * [layers][B, H, T, T], as the model computes them: it keeps no layer's for long (they are
     * recomputed in the backward), so they are read through an observer while they exist.
     */
    static float[][] forward(BertQa model, Batch batch) {
        float[][] probabilities = new float[model.config().layers()][];
        model.observe((name, layer, values, shape, axes) -> {
            if (name.equals("probs")) {
                probabilities[layer] = new float[values.length()];
                model.backend().copyOut(values, probabilities[layer]);
            }
        });
        try {
            model.forward(batch, null);
        } finally {
            model.observe(null);
        }
        return probabilities;
    }

    public int layers() {
        return probabilities.length;
    }

    public int heads() {
        return probabilities[0].length;
    }

    public int length() {
        return tokens.size();
    }

    /** How much {@code query} attends to {@code key} in one head. */
    public float weight(int layer, int head, int query, int key) {
        return probabilities[layer][head][query * length() + key];
    }
}
