package dev.jbert.core.squad;

import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.Truncation;
import dev.jbert.tokenizer.Window;
import java.util.ArrayList;
import java.util.List;

/**
 * Examples to labelled windows, as Hugging Face's run_qa {@code prepare_train_features} does:
 * strip the question's leading whitespace, cut the context into windows, and label each window
 * with the token positions of the example's first answer, or [CLS] (position 0) when the answer
 * is not wholly inside the window's context.
 */
public final class TrainingFeatures {
    private static final int CLS = 0;

    private TrainingFeatures() {}

    /** Every window of every example, in order; several per example when its context is long. */
    public static List<TrainingFeature> build(List<SquadExample> examples, BertTokenizer tokenizer, Truncation truncation) {
        List<String> questions = new ArrayList<>(examples.size()), contexts = new ArrayList<>(examples.size());
        for (SquadExample example : examples) {
            questions.add(example.question().stripLeading());   // a leading space would only waste window room
            contexts.add(example.context());
        }
        List<TrainingFeature> features = new ArrayList<>();
        for (Window window : tokenizer.encodePairs(questions, contexts, truncation)) {
            features.add(label(window, examples.get(window.example())));
        }
        return features;
    }

    /**
     * run_qa's labels for one window. Offsets are code points of the context, [start, end) per
     * token; the answer is {@code [startChar, endChar)}. The start is the last context token that
     * begins at or before startChar, the end the first that ends at or after endChar, so a token
     * straddling either boundary is part of the answer (and a start in the gap after a token gives
     * that token).
     */
    public static TrainingFeature label(Window window, SquadExample example) {
        if (example.answers().isEmpty() || window.contextStart() == window.contextEnd()) {
            return new TrainingFeature(window, CLS, CLS);
        }
        SquadAnswer answer = example.answers().getFirst();
        int startChar = answer.start(), endChar = answer.end();
        int[] starts = window.offsetStarts(), ends = window.offsetEnds();
        int first = window.contextStart(), last = window.contextEnd() - 1;
        if (starts[first] > startChar || ends[last] < endChar) return new TrainingFeature(window, CLS, CLS);

        // run_qa walks on past the last context token onto [SEP] (its offset, (0, 0) in HF, is <= any
        // startChar) and so labels an answer that starts in the window's last token with [SEP], or
        // with the last padding position when padded; stopping at the context's end gives that token
        int start = first;
        while (start <= last && starts[start] <= startChar) start++;
        // stops at the [SEP] before the context at the latest: its end offset is -1 < endChar
        int end = last;
        while (ends[end] >= endChar) end--;
        return new TrainingFeature(window, start - 1, end + 1);
    }
}
