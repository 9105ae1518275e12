package dev.jbert.core.model;

/**
 * One batch of windows, padded to its longest: {@code size} sequences of {@code tokens} tokens,
 * row-major ({@code inputIds[b * tokens + t]}). Padding has id 0 ([PAD]), type 0 and mask 0.
 * The answer positions are token indices in each window, or null when the batch has no labels
 * (inference).
 */
public record Batch(int size, int tokens, int[] inputIds, int[] tokenTypeIds, int[] attentionMask,
                    int[] startPositions, int[] endPositions) {
    public Batch {
        int n = size * tokens;
        if (size < 1 || tokens < 1 || inputIds.length != n || tokenTypeIds.length != n || attentionMask.length != n) {
            throw new IllegalArgumentException("a batch of " + size + " x " + tokens + " needs " + n
                    + " ids, types and mask values");
        }
        if ((startPositions == null) != (endPositions == null)
                || startPositions != null && (startPositions.length != size || endPositions.length != size)) {
            throw new IllegalArgumentException("a batch of " + size + " needs " + size + " start and end positions, or neither");
        }
    }

    public boolean hasLabels() {
        return startPositions != null;
    }
}
