package dev.jbert.core.qa;

import dev.jbert.tokenizer.Window;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * From start and end logits to the best answer span, as Hugging Face's run_qa post-processing
 * ({@code postprocess_qa_predictions}) does: in every window, pair each of the {@code nBest}
 * highest start logits with each of the {@code nBest} highest end logits; keep pairs that lie in
 * the context, end at or after they start and span at most {@code maxAnswerLength} tokens; score
 * them by start logit + end logit; the best over all windows of the example wins.
 */
public final class SpanSearch {
    /** run_qa's defaults. */
    public static final int N_BEST = 20;
    public static final int MAX_ANSWER_LENGTH = 30;

    /**
     * A candidate answer: the window (index in the list given), its first and last token there,
     * the score, and the answer's code points in the context, {@code [start, end)}.
     */
    public record Span(int window, int startToken, int endToken, float score, int start, int end) {}

    private SpanSearch() {}

    /**
     * The best spans over the windows of one example, best first, at most {@code limit} of them.
     * {@code startLogits[w]} and {@code endLogits[w]} hold window w's logits (at least its length).
     */
    public static List<Span> best(List<Window> windows, float[][] startLogits, float[][] endLogits, int nBest,
                                  int maxAnswerLength, int limit) {
        List<Span> spans = new ArrayList<>();
        for (int w = 0; w < windows.size(); w++) {
            Window window = windows.get(w);
            int[] starts = topIndexes(startLogits[w], window.length(), nBest);
            int[] ends = topIndexes(endLogits[w], window.length(), nBest);
            for (int start : starts) {
                for (int end : ends) {
                    if (!window.isContext(start) || !window.isContext(end) || end < start
                            || end - start + 1 > maxAnswerLength) {
                        continue;
                    }
                    spans.add(new Span(w, start, end, startLogits[w][start] + endLogits[w][end],
                            window.offsetStarts()[start], window.offsetEnds()[end]));
                }
            }
        }
        spans.sort(Comparator.comparingDouble((Span s) -> -s.score()));
        return spans.subList(0, Math.min(limit, spans.size()));
    }

    /**
     * run_qa's probabilities of candidate spans: a softmax over their scores (start logit + end
     * logit), so they sum to 1 over the spans given (run_qa gives it the 20 best of an example).
     */
    public static double[] probabilities(List<Span> spans) {
        double max = spans.stream().mapToDouble(Span::score).max().orElse(0);
        double[] probabilities = spans.stream().mapToDouble(span -> Math.exp(span.score() - max)).toArray();
        double sum = Arrays.stream(probabilities).sum();
        for (int i = 0; i < probabilities.length; i++) {
            probabilities[i] /= sum;
        }
        return probabilities;
    }

    /** The indexes of the {@code n} largest of {@code values[0, length)}, largest first. */
    static int[] topIndexes(float[] values, int length, int n) {
        return IntStream.range(0, length).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -values[i]).thenComparingInt(i -> i))
                .limit(n).mapToInt(Integer::intValue).toArray();
    }
}
