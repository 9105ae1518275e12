package dev.jbert.core.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.core.qa.Explanation;
import dev.jbert.core.qa.SpanSearch;
import dev.jbert.tokenizer.Window;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The terminal picture of a confident answer in a long context: few lines, each within 100 columns. */
class ExplanationTextTest {
    @Test
    void aLongContextShowsItsNotableTokensAndCountsTheRest() {
        // [CLS] q [SEP] t0 .. t99 [SEP]: context tokens at positions 3 .. 102
        int length = 104;
        int[] offsets = new int[length];
        String[] tokens = new String[length];
        double[] starts = new double[length];
        double[] ends = new double[length];
        for (int t = 0; t < length; t++) {
            offsets[t] = t >= 3 && t < 103 ? t : -1;
            tokens[t] = t >= 3 && t < 103 ? "t" + (t - 3) : "[X]";
            starts[t] = t >= 3 && t < 103 ? 0.02 / 97 : 0;
            ends[t] = t >= 3 && t < 103 ? 0.10 / 99 : 0;
        }
        starts[50] = 0.95;
        starts[80] = 0.03;
        ends[52] = 0.90;
        tokens[49] = "a-very-long-word-piece";
        Window window = new Window(0, new int[length], new int[length], offsets, offsets, 3, 103, 0);
        List<Explanation.Candidate> spans = List.of(
                new Explanation.Candidate(new SpanSearch.Span(0, 50, 52, 12.5f, 50, 52), "t47 t48 t49", 0.9),
                new Explanation.Candidate(new SpanSearch.Span(0, 80, 80, 9.25f, 80, 80), "t77", 0.04));
        Explanation explanation = new Explanation(spans, 20, List.of(window), 0, new String[][] {tokens},
                new double[][] {starts}, new double[][] {ends});
        StringWriter text = new StringWriter();
        ExplanationText.print(explanation, new PrintWriter(text, true));
        List<String> lines = text.toString().lines().toList();

        assertEquals("top 2 of the 20 best spans (probability: softmax of start + end logit over the 20):", lines.get(0));
        assertEquals("  1.  90.0%  score  12.50  window 0, tokens  50-52   \"t47 t48 t49\"", lines.get(1));
        assertTrue(lines.get(4).contains("softmax over its 100 context tokens"), lines.get(4));
        List<String> body = lines.subList(6, lines.size());
        assertEquals("  ... 45 tokens under 1% ...", body.getFirst(), "t0 .. t44");
        assertEquals("  t45", body.get(1).substring(0, 5));
        assertTrue(body.get(2).startsWith("  a-very-long-wor~ "), "a long token is cut to its column: " + body.get(2));
        String t47 = String.format("> %-16s %s  %s", "t47", "#".repeat(23) + "  0.950", " ".repeat(24) + " 0.001");
        assertEquals(t47, body.get(3));
        assertEquals(String.format("> %-16s %s  %s", "t49", " ".repeat(24) + " 0.000", "#".repeat(22) + "   0.900"), body.get(5));
        assertEquals("  ... 25 tokens under 1% ...", body.get(8), "t52 .. t76");
        assertTrue(body.get(9).startsWith(String.format("  %-16s %s", "t77", "#" + " ".repeat(23) + " 0.030")), body.get(9));
        assertEquals("  ... 22 tokens under 1% ...", body.getLast(), "t78 .. t99");
        assertEquals(11, body.size());
        assertEquals(3, lines.stream().filter(line -> line.startsWith(">")).count(), "the answer's tokens are marked");
        assertTrue(lines.stream().allMatch(line -> line.length() <= 100), text.toString());
    }
}
