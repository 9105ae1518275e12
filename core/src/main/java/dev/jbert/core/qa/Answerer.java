package dev.jbert.core.qa;

import dev.jbert.core.model.Batch;
import dev.jbert.core.model.BertQa;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.CodePoints;
import dev.jbert.tokenizer.Truncation;
import dev.jbert.tokenizer.Window;
import java.util.Arrays;
import java.util.List;

/**
 * Answers a question about a context with a fine-tuned model: the context is cut into windows
 * (run_qa's 384 tokens, 128 shared), the windows go through the model in batches, and
 * {@link SpanSearch} picks the span.
 */
public final class Answerer {
    private final BertQa model;

    public Answerer(BertQa model) {
        this.model = model;
    }

    /** The windows of a question and context; run_qa strips the question's leading whitespace. */
    public static List<Window> windows(BertTokenizer tokenizer, String question, String context, Truncation truncation) {
        return tokenizer.encodePair(question.stripLeading(), context, truncation);
    }

    /**
     * The answer and what it came from: the windows and their logits (each {@code [tokens]} of the
     * window's own length), and the top spans, best first (empty when no valid span exists).
     */
    public record Answer(String text, List<SpanSearch.Span> spans, List<Window> windows,
                         float[][] startLogits, float[][] endLogits) {
        public SpanSearch.Span best() {
            return spans.isEmpty() ? null : spans.getFirst();
        }
    }

    /** Answers from the {@link #windows} of a question and context, with up to {@code topSpans} candidates. */
    public Answer answer(List<Window> windows, String context, int topSpans) {
        float[][] starts = new float[windows.size()][];
        float[][] ends = new float[windows.size()][];
        for (int first = 0; first < windows.size(); first += model.maxBatch()) {
            List<Window> chunk = windows.subList(first, Math.min(windows.size(), first + model.maxBatch()));
            Batch batch = batchOf(chunk);
            model.forward(batch, null);
            keepLogits(model, batch, chunk, first, starts, ends);
        }
        List<SpanSearch.Span> spans = SpanSearch.best(windows, starts, ends, SpanSearch.N_BEST,
                SpanSearch.MAX_ANSWER_LENGTH, topSpans);
        String text = spans.isEmpty() ? "" : CodePoints.substring(context, spans.getFirst().start(), spans.getFirst().end());
        return new Answer(text, spans, windows, starts, ends);
    }

    /**
     * After a forward over {@code batch} (the windows {@code chunk}), copies each window's start and
     * end logits, without the padding, into {@code starts[first + w]} and {@code ends[first + w]}.
     */
    public static void keepLogits(BertQa model, Batch batch, List<Window> chunk, int first, float[][] starts, float[][] ends) {
        float[] startLogits = model.startLogits();
        float[] endLogits = model.endLogits();
        for (int w = 0; w < chunk.size(); w++) {
            int length = chunk.get(w).length();
            int from = w * batch.tokens();
            starts[first + w] = Arrays.copyOfRange(startLogits, from, from + length);
            ends[first + w] = Arrays.copyOfRange(endLogits, from, from + length);
        }
    }

    /** Windows padded to the longest one, without labels. */
    public static Batch batchOf(List<Window> windows) {
        int tokens = windows.stream().mapToInt(Window::length).max().orElseThrow();
        int n = windows.size() * tokens;
        int[] ids = new int[n];
        int[] types = new int[n];
        int[] mask = new int[n];
        for (int w = 0; w < windows.size(); w++) {
            Window window = windows.get(w);
            System.arraycopy(window.inputIds(), 0, ids, w * tokens, window.length());
            System.arraycopy(window.tokenTypeIds(), 0, types, w * tokens, window.length());
            Arrays.fill(mask, w * tokens, w * tokens + window.length(), 1);
        }
        return new Batch(windows.size(), tokens, ids, types, mask, null, null);
    }
}
