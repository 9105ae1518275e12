package dev.jbert.core.qa;

import dev.jbert.core.io.ChartFiles;
import dev.jbert.tokenizer.Window;
import java.awt.Color;
import java.awt.Font;
import java.nio.file.Path;
import java.util.List;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.IntervalMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.ClusteredXYBarRenderer;
import org.jfree.chart.renderer.xy.StandardXYBarPainter;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.Layer;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * {@code answer --plot}: the start and end probabilities of each context token of the best
 * window ({@link Explanation}) as pairs of bars, the tokens along the x axis and the best span
 * shaded. A context of more than {@link #MAX_TOKENS} tokens is shown from its first to its last
 * notable token (and at most {@link #MAX_TOKENS} of them around the answer), so the labels stay
 * readable.
 */
public final class ExplanationPlot {
    static final int MAX_TOKENS = 120;
    private static final int PIXELS_PER_TOKEN = 18;

    private ExplanationPlot() {}

    public static void write(Explanation explanation, String question, Path png) {
        int w = explanation.window();
        Window window = explanation.windows().get(w);
        int[] range = range(explanation, window);
        int first = range[0];
        int count = range[1] - first;
        String[] labels = new String[count];
        XYSeries starts = new XYSeries("start");
        XYSeries ends = new XYSeries("end");
        for (int i = 0; i < count; i++) {
            labels[i] = explanation.tokens()[w][first + i];
            starts.add(i, explanation.startProbabilities()[w][first + i]);
            ends.add(i, explanation.endProbabilities()[w][first + i]);
        }
        XYSeriesCollection data = new XYSeriesCollection(starts);
        data.addSeries(ends);
        SymbolAxis tokens = new SymbolAxis(count < window.contextEnd() - window.contextStart()
                ? String.format("window %d, tokens %d-%d (its context: %d-%d)", w, first, range[1] - 1,
                        window.contextStart(), window.contextEnd() - 1)
                : String.format("context tokens of window %d", w), labels);
        tokens.setVerticalTickLabels(true);
        tokens.setTickLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        tokens.setGridBandsVisible(false);
        NumberAxis probability = new NumberAxis("probability (softmax over the window's context)");
        probability.setAutoRangeIncludesZero(true);
        ClusteredXYBarRenderer bars = new ClusteredXYBarRenderer(0.15, false);
        bars.setBarPainter(new StandardXYBarPainter());
        bars.setShadowVisible(false);
        bars.setSeriesPaint(0, new Color(31, 119, 180));
        bars.setSeriesPaint(1, new Color(255, 127, 14));
        XYPlot plot = new XYPlot(data, tokens, probability, bars);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.setDomainGridlinesVisible(false);
        Explanation.Candidate best = explanation.best();
        if (best != null) {
            IntervalMarker answer = new IntervalMarker(best.span().startToken() - first - 0.5,
                    best.span().endToken() - first + 0.5, new Color(255, 230, 120, 140));
            answer.setLabel("best span");
            answer.setLabelAnchor(RectangleAnchor.TOP);
            answer.setLabelTextAnchor(TextAnchor.TOP_CENTER);
            plot.addDomainMarker(answer, Layer.BACKGROUND);
        }
        JFreeChart chart = new JFreeChart("Where the answer starts and ends", JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.addSubtitle(new TextTitle("Q: " + question.strip()));
        chart.addSubtitle(new TextTitle(best == null ? "no valid span"
                : String.format("A: %s  (p = %.2f among the %d best spans)", best.text(), best.probability(), explanation.candidates())));
        chart.setBackgroundPaint(Color.WHITE);
        ChartFiles.writePng(chart, png, Math.max(800, 120 + PIXELS_PER_TOKEN * count), 560);
    }

    /**
     * {@code [first, end)} of the tokens to draw: the whole context when it is short, else from
     * the first to the last notable token, cut to {@link #MAX_TOKENS} centred on the best span.
     */
    private static int[] range(Explanation explanation, Window window) {
        int first = window.contextStart();
        int end = window.contextEnd();
        if (end - first <= MAX_TOKENS) {
            return new int[] {first, end};
        }
        List<Integer> notable = explanation.notableTokens(0.01, 5);
        int from = notable.isEmpty() ? first : notable.getFirst();
        int to = notable.isEmpty() ? end : notable.getLast() + 1;
        if (to - from > MAX_TOKENS) {
            Explanation.Candidate best = explanation.best();
            int centre = best == null ? (from + to) / 2 : (best.span().startToken() + best.span().endToken()) / 2;
            from = Math.max(first, Math.min(centre - MAX_TOKENS / 2, end - MAX_TOKENS));
            to = from + MAX_TOKENS;
        }
        return new int[] {from, to};
    }
}
