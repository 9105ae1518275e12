package dev.jbert.core.qa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.core.model.TinyQaFixture;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.Truncation;
import dev.jbert.tokenizer.Vocab;
import dev.jbert.tokenizer.Window;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Explanations of made-up logits: a confident model on a long context, in the tiny fixture's words. */
class ExplanationTest {
    private static final Vocab VOCAB = Vocab.load(TinyQaFixture.DIR.resolve("vocab.txt"));
    // 150 words w1 w2 ... in windows of 64 tokens sharing 16: several windows, each with a long context
    private static final String CONTEXT = words(0, 150);
    private static final List<Window> WINDOWS = Answerer.windows(new BertTokenizer(VOCAB), "w5 w6", CONTEXT, new Truncation(64, 16));

    /** Logits that put the start on context token 20 of window 1 (and a little on 25), the end on 22. */
    private static Answerer.Answer confident() {
        float[][] starts = new float[WINDOWS.size()][];
        float[][] ends = new float[WINDOWS.size()][];
        for (int w = 0; w < WINDOWS.size(); w++) {
            starts[w] = new float[WINDOWS.get(w).length()];
            ends[w] = new float[WINDOWS.get(w).length()];
        }
        int first = WINDOWS.get(1).contextStart();
        starts[1][first + 20] = 8;
        starts[1][first + 25] = 5;
        ends[1][first + 22] = 9;
        starts[1][0] = 20; // [CLS]: outside the context, so in no span and no context softmax
        List<SpanSearch.Span> spans = SpanSearch.best(WINDOWS, starts, ends, SpanSearch.N_BEST, SpanSearch.MAX_ANSWER_LENGTH,
                SpanSearch.N_BEST);
        return new Answerer.Answer("", spans, WINDOWS, starts, ends);
    }

    /** Words {@code [from, to)} of the context: each is one token of the tiny vocabulary. */
    private static String words(int from, int to) {
        return IntStream.range(from, to).mapToObj(i -> "w" + (1 + i % 93)).collect(Collectors.joining(" "));
    }

    @Test
    void spansCarryRunQaProbabilitiesBestFirst() {
        Answerer.Answer answer = confident();
        Explanation all = Explanation.of(answer, CONTEXT, VOCAB, SpanSearch.N_BEST);
        Explanation top3 = Explanation.of(answer, CONTEXT, VOCAB, 3);
        assertEquals(SpanSearch.N_BEST, all.candidates());
        assertEquals(3, top3.spans().size());
        assertEquals(1, all.spans().stream().mapToDouble(Explanation.Candidate::probability).sum(), 1e-12, "over all n-best");
        assertTrue(top3.spans().stream().mapToDouble(Explanation.Candidate::probability).sum() < 1);
        for (int i = 1; i < all.spans().size(); i++) {
            assertTrue(all.spans().get(i).probability() <= all.spans().get(i - 1).probability(), "sorted");
        }
        Explanation.Candidate best = top3.best();
        assertEquals(answer.best(), best.span());
        assertEquals(1, top3.window());
        assertEquals(WINDOWS.get(1).contextStart() + 20, best.span().startToken());
        assertEquals(WINDOWS.get(1).contextStart() + 22, best.span().endToken());
        double expected = 1 / IntStream.range(0, all.spans().size())
                .mapToDouble(i -> Math.exp(all.spans().get(i).span().score() - best.span().score())).sum();
        assertEquals(expected, best.probability(), 1e-12);
        int offset = WINDOWS.get(1).contextTokenOffset();
        assertEquals(words(offset + 20, offset + 23), best.text());
    }

    @Test
    void tokenDistributionsAreSoftmaxesOverTheContextAlone() {
        Explanation explanation = Explanation.of(confident(), CONTEXT, VOCAB, 5);
        for (int w = 0; w < WINDOWS.size(); w++) {
            Window window = WINDOWS.get(w);
            for (double[] probabilities : List.of(explanation.startProbabilities()[w], explanation.endProbabilities()[w])) {
                assertEquals(window.length(), probabilities.length);
                double sum = 0;
                for (int t = 0; t < window.length(); t++) {
                    if (!window.isContext(t)) {
                        assertEquals(0, probabilities[t], "token " + t + " of window " + w + " is not context");
                    }
                    sum += probabilities[t];
                }
                assertEquals(1, sum, 1e-9, "window " + w);
            }
        }
        int first = WINDOWS.get(1).contextStart();
        double[] starts = explanation.startProbabilities()[1];
        int contextTokens = WINDOWS.get(1).contextEnd() - first;
        double z = Math.exp(8) + Math.exp(5) + (contextTokens - 2);
        assertEquals(Math.exp(8) / z, starts[first + 20], 1e-12);
        assertEquals(1 / z, starts[first + 3], 1e-12);
        assertEquals(words(WINDOWS.get(1).contextTokenOffset() + 20, WINDOWS.get(1).contextTokenOffset() + 21),
                explanation.tokens()[1][first + 20]);
        assertEquals("[CLS]", explanation.tokens()[1][0]);
    }

    @Test
    void aLongContextsNotableTokensAreTheConfidentOnesAndTheAnswersNeighbours() {
        Explanation explanation = Explanation.of(confident(), CONTEXT, VOCAB, 5);
        int first = WINDOWS.get(1).contextStart();
        List<Integer> expected = IntStream.rangeClosed(first + 18, first + 24).boxed().collect(Collectors.toList());
        expected.add(first + 25); // the second start, 5% of the mass
        assertEquals(expected, explanation.notableTokens(0.01, 2));
    }
}
