package dev.jbert.core.model;

/**
 * Where dropout's random bits come from in one training step. Every dropout site of the model
 * draws from its own Philox stream, {@code step * SITES + site}, so a step's masks depend only on
 * the seed and the step number: a resumed run replays them exactly, on any backend.
 */
public record Dropout(long seed, long step) {
    /** Streams per step: the embeddings, then three sites per layer (far more than 12 layers need). */
    static final long SITES = 1 << 12;

    static final int EMBEDDINGS = 0;
    static final int ATTENTION_PROBS = 0;
    static final int ATTENTION_OUTPUT = 1;
    static final int FFN_OUTPUT = 2;

    /** The stream of the embeddings' dropout. */
    long embeddings() {
        return step * SITES + EMBEDDINGS;
    }

    /** The stream of one of a layer's three dropout sites. */
    long layer(int layer, int site) {
        return step * SITES + 1 + 3L * layer + site;
    }
}
