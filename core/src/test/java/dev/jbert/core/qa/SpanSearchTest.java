package dev.jbert.core.qa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.tokenizer.Window;
import java.util.List;
import org.junit.jupiter.api.Test;

class SpanSearchTest {
    // [CLS] q q [SEP] c0 c1 c2 c3 c4 [SEP]: the context holds positions 4..8, 3 code points per token
    private static final Window WINDOW = new Window(0, new int[10], new int[10],
            new int[] {-1, 0, 2, -1, 0, 4, 8, 12, 16, -1}, new int[] {-1, 1, 3, -1, 3, 7, 11, 15, 19, -1}, 4, 9, 0);

    @Test
    void theBestValidPairWins() {
        float[] start = {9, 8, 0, 0, 1, 3, 0, 0, 0, 7};   // [CLS], the question and [SEP] score higher: skipped
        float[] end = {9, 0, 8, 0, 0, 0, 2, 5, 0, 7};
        SpanSearch.Span best = SpanSearch.best(List.of(WINDOW), new float[][] {start}, new float[][] {end}, 20, 30, 1).getFirst();
        assertEquals(5, best.startToken());
        assertEquals(7, best.endToken());
        assertEquals(8f, best.score());
        assertEquals(4, best.start());
        assertEquals(15, best.end());
    }

    @Test
    void endsBeforeStartsAndLongSpansAreSkipped() {
        float[] start = {0, 0, 0, 0, 0, 0, 0, 9, 0, 0};
        float[] end = {0, 0, 0, 0, 9, 1, 0, 0, 0, 0};
        List<SpanSearch.Span> spans = SpanSearch.best(List.of(WINDOW), new float[][] {start}, new float[][] {end}, 20, 30, 50);
        assertTrue(spans.stream().allMatch(s -> s.endToken() >= s.startToken()));
        assertEquals(7, spans.getFirst().startToken(), "the high start with a later end");

        float[] flat = new float[10];
        List<SpanSearch.Span> short2 = SpanSearch.best(List.of(WINDOW), new float[][] {flat}, new float[][] {flat}, 20, 2, 50);
        assertTrue(short2.stream().allMatch(s -> s.endToken() - s.startToken() + 1 <= 2));
        assertEquals(5 + 4, short2.size(), "5 one-token and 4 two-token spans");
    }

    @Test
    void onlyTheNBestStartsAndEndsArePaired() {
        float[] start = {0, 0, 0, 0, 5, 4, 3, 2, 1, 0};
        float[] end = {0, 0, 0, 0, 1, 2, 3, 4, 5, 0};
        List<SpanSearch.Span> spans = SpanSearch.best(List.of(WINDOW), new float[][] {start}, new float[][] {end}, 1, 30, 50);
        assertEquals(1, spans.size());
        assertEquals(4, spans.getFirst().startToken());
        assertEquals(8, spans.getFirst().endToken());
    }
}
