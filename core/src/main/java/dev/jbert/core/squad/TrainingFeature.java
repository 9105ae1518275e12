package dev.jbert.core.squad;

import dev.jbert.tokenizer.Window;

/**
 * One training input: a window of {@code [CLS] question [SEP] context [SEP]} and the positions in
 * it of the answer's first and last token, both 0 ([CLS]) when the answer is not in the window or
 * the question has none. {@code window.example()} is the example's index in the list given to
 * {@link TrainingFeatures#build}.
 */
public record TrainingFeature(Window window, int startPosition, int endPosition) {}
