package dev.jbert.core.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jbert.core.io.ChartFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.nio.file.Path;
import java.util.List;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * The run at a glance: training loss (left axis) and dev F1 (right axis) against the optimizer
 * step, drawn from {@code metrics.jsonl} by JFreeChart into a PNG, replaced atomically after each
 * evaluation.
 */
public final class TrainingPlot {
    private TrainingPlot() {}

    public static void write(List<JsonNode> metrics, Path png) {
        XYSeries loss = new XYSeries("training loss");
        XYSeries f1 = new XYSeries("dev F1");
        for (JsonNode line : metrics) {
            int step = line.path("step").asInt();
            if (line.has("loss")) {
                loss.add(step, line.get("loss").asDouble());
            }
            if (line.has("f1")) {
                f1.add(step, line.get("f1").asDouble());
            }
        }
        NumberAxis stepAxis = new NumberAxis("optimizer step");
        NumberAxis lossAxis = new NumberAxis("training loss");
        lossAxis.setAutoRangeIncludesZero(true);
        XYPlot plot = new XYPlot(new XYSeriesCollection(loss), stepAxis, lossAxis, renderer(new Color(31, 119, 180), false));
        NumberAxis f1Axis = new NumberAxis("dev F1");
        f1Axis.setRange(0, 100);
        plot.setRangeAxis(1, f1Axis);
        plot.setDataset(1, new XYSeriesCollection(f1));
        plot.mapDatasetToRangeAxis(1, 1);
        plot.setRenderer(1, renderer(new Color(214, 39, 40), true));
        JFreeChart chart = new JFreeChart("jbert fine-tuning", JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        ChartFiles.writePng(chart, png, 900, 500);
    }

    private static XYLineAndShapeRenderer renderer(Color color, boolean shapes) {
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, shapes);
        renderer.setSeriesPaint(0, color);
        renderer.setSeriesStroke(0, new BasicStroke(1.5f));
        return renderer;
    }
}
