package dev.jbert.core.cli;

import dev.jbert.core.qa.Explanation;
import dev.jbert.core.qa.SpanSearch;
import dev.jbert.tokenizer.Window;
import java.io.PrintWriter;
import java.util.List;
import java.util.stream.IntStream;

/**
 * {@code answer --explain} in a terminal, within 80 columns: the top spans with their
 * probabilities, then the start and end probabilities of the best window's context tokens as bars
 * of {@code #}, one line per token, the answer's tokens marked with {@code >}. A long context shows
 * only its notable tokens (at least 1% of the start or the end, or next to the answer) and counts
 * the ones it leaves out.
 */
final class ExplanationText {
    private static final int BAR = 24;          // characters of a bar at probability 1
    private static final int TOKEN = 16;        // characters of the token column
    private static final int TEXT = 40;         // characters of a span's text in the list of spans
    private static final int SHOW_ALL = 40;     // a context of up to this many tokens is shown whole
    private static final double NOTABLE = 0.01;
    private static final int MARGIN = 2;        // tokens shown either side of the answer

    private ExplanationText() {}

    static void print(Explanation explanation, PrintWriter out) {
        List<Explanation.Candidate> spans = explanation.spans();
        out.printf("top %d of the %d best spans (probability: softmax of start + end logit over the %d):%n",
                spans.size(), explanation.candidates(), explanation.candidates());
        for (int i = 0; i < spans.size(); i++) {
            Explanation.Candidate candidate = spans.get(i);
            SpanSearch.Span span = candidate.span();
            out.printf("  %d. %5.1f%%  score %6.2f  window %d, tokens %3d-%-3d  %s%n", i + 1, 100 * candidate.probability(),
                    span.score(), span.window(), span.startToken(), span.endToken(), quoted(candidate.text()));
        }
        Window window = explanation.windows().get(explanation.window());
        int contextTokens = window.contextEnd() - window.contextStart();
        out.printf("%nwhere the answer starts and ends: window %d of %d, softmax over its %d context tokens%n",
                explanation.window(), explanation.windows().size(), contextTokens);
        out.printf("  %-" + TOKEN + "s %-" + (BAR + 6) + "s  %s%n", "token", "start", "end");
        List<Integer> shown = contextTokens <= SHOW_ALL
                ? IntStream.range(window.contextStart(), window.contextEnd()).boxed().toList()
                : explanation.notableTokens(NOTABLE, MARGIN);
        Explanation.Candidate best = explanation.best();
        int next = window.contextStart();
        for (int t : shown) {
            skipped(t - next, out);
            boolean inAnswer = best != null && t >= best.span().startToken() && t <= best.span().endToken();
            double start = explanation.startProbabilities()[explanation.window()][t];
            double end = explanation.endProbabilities()[explanation.window()][t];
            out.printf("%s %-" + TOKEN + "s %s  %s%n", inAnswer ? ">" : " ", cut(explanation.tokens()[explanation.window()][t], TOKEN),
                    bar(start), bar(end));
            next = t + 1;
        }
        skipped(window.contextEnd() - next, out);
    }

    private static void skipped(int count, PrintWriter out) {
        if (count > 0) {
            out.printf("  ... %d token%s under %.0f%% ...%n", count, count == 1 ? "" : "s", 100 * NOTABLE);
        }
    }

    /** {@code ######       0.250}: the bar (a {@code #} per 1/24), then the number. */
    private static String bar(double probability) {
        int length = (int) Math.round(probability * BAR);
        return "#".repeat(length) + " ".repeat(BAR - length) + String.format(" %5.3f", probability);
    }

    private static String quoted(String text) {
        return "\"" + cut(text.replaceAll("\\s+", " "), TEXT - 2) + "\"";
    }

    /** {@code text}, cut to {@code width} characters with a trailing {@code ~} when longer. */
    private static String cut(String text, int width) {
        return text.codePointCount(0, text.length()) <= width ? text : text.substring(0, text.offsetByCodePoints(0, width - 1)) + "~";
    }
}
