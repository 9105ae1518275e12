package dev.jbert.core.qa;

import dev.jbert.tokenizer.CodePoints;
import dev.jbert.tokenizer.Vocab;
import dev.jbert.tokenizer.Window;
import java.util.ArrayList;
import java.util.List;

/**
 * Why the model gave its answer, from the logits the answer came from: the top candidate spans
 * with run_qa's probabilities (a softmax of start logit + end logit over the n-best candidates,
 * {@link SpanSearch#probabilities}), and, for every window, the start and end distributions over
 * its context tokens (a softmax of the start, or end, logits over the context tokens alone: the
 * model's belief about where the answer begins and ends, before any pairing).
 *
 * @param spans              the top candidates, best first; their probabilities sum to at most 1
 *                           (exactly 1 when all the candidates are kept)
 * @param candidates         how many candidates the probabilities were taken over (at most {@link SpanSearch#N_BEST})
 * @param windows            the windows of the context
 * @param window             the window of the best span (0 when there is none): the one worth showing
 * @param tokens             per window, per token: its text (the vocabulary's word piece, or the
 *                           context's code points for an [UNK])
 * @param startProbabilities per window, per token ({@code [tokens of the window]}): 0 outside the context
 * @param endProbabilities   the same for the end
 */
public record Explanation(List<Candidate> spans, int candidates, List<Window> windows, int window, String[][] tokens,
                          double[][] startProbabilities, double[][] endProbabilities) {
    /** One candidate span, its text in the context and its probability among the n-best. */
    public record Candidate(SpanSearch.Span span, String text, double probability) {}

    /**
     * Explains an answer found with all n-best candidates ({@code Answerer.answer(..., SpanSearch.N_BEST)}),
     * keeping the {@code top} best.
     */
    public static Explanation of(Answerer.Answer answer, String context, Vocab vocab, int top) {
        List<SpanSearch.Span> spans = answer.spans();
        double[] probabilities = SpanSearch.probabilities(spans);
        List<Candidate> kept = new ArrayList<>();
        for (int i = 0; i < Math.min(top, spans.size()); i++) {
            SpanSearch.Span span = spans.get(i);
            kept.add(new Candidate(span, CodePoints.substring(context, span.start(), span.end()), probabilities[i]));
        }
        int windows = answer.windows().size();
        String[][] tokens = new String[windows][];
        double[][] starts = new double[windows][];
        double[][] ends = new double[windows][];
        for (int w = 0; w < windows; w++) {
            Window window = answer.windows().get(w);
            tokens[w] = tokenTexts(window, context, vocab);
            starts[w] = contextSoftmax(answer.startLogits()[w], window);
            ends[w] = contextSoftmax(answer.endLogits()[w], window);
        }
        return new Explanation(kept, spans.size(), answer.windows(), answer.best() == null ? 0 : answer.best().window(), tokens,
                starts, ends);
    }

    /** The best span, or null when no valid span exists. */
    public Candidate best() {
        return spans.isEmpty() ? null : spans.getFirst();
    }

    /**
     * The context tokens of the shown window worth a look, in order: those with at least
     * {@code minProbability} of the start or the end, and the best span with {@code margin} tokens
     * either side. A long context's other tokens carry next to nothing and are left out.
     */
    public List<Integer> notableTokens(double minProbability, int margin) {
        Window shown = windows.get(window);
        Candidate best = best();
        List<Integer> notable = new ArrayList<>();
        for (int t = shown.contextStart(); t < shown.contextEnd(); t++) {
            boolean nearAnswer = best != null && t >= best.span().startToken() - margin && t <= best.span().endToken() + margin;
            if (nearAnswer || startProbabilities[window][t] >= minProbability || endProbabilities[window][t] >= minProbability) {
                notable.add(t);
            }
        }
        return notable;
    }

    /** softmax of {@code logits} over the window's context tokens; 0 for the question and special tokens. */
    private static double[] contextSoftmax(float[] logits, Window window) {
        double max = Double.NEGATIVE_INFINITY;
        for (int t = window.contextStart(); t < window.contextEnd(); t++) {
            max = Math.max(max, logits[t]);
        }
        double[] probabilities = new double[window.length()];
        double sum = 0;
        for (int t = window.contextStart(); t < window.contextEnd(); t++) {
            probabilities[t] = Math.exp(logits[t] - max);
            sum += probabilities[t];
        }
        for (int t = window.contextStart(); t < window.contextEnd(); t++) {
            probabilities[t] /= sum;
        }
        return probabilities;
    }

    private static String[] tokenTexts(Window window, String context, Vocab vocab) {
        String[] texts = new String[window.length()];
        for (int t = 0; t < window.length(); t++) {
            int id = window.inputIds()[t];
            texts[t] = id == vocab.unkId() && window.isContext(t)
                    ? CodePoints.substring(context, window.offsetStarts()[t], window.offsetEnds()[t])
                    : vocab.token(id);
        }
        return texts;
    }
}
