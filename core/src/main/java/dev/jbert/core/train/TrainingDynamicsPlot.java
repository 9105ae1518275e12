package dev.jbert.core.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jbert.core.io.ChartFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Paint;
import java.awt.Shape;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CombinedDomainXYPlot;
import org.jfree.chart.plot.DefaultDrawingSupplier;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * How each layer learns, the companion of {@link TrainingPlot}: per parameter group (see
 * {@link LayerDynamics}), the gradient norm before clipping (top panel) and the update ratio
 * {@code ||dw|| / ||w||} (bottom panel) against the optimizer step, both on log scales, from the
 * training lines of {@code metrics.jsonl}. One line per group: the embeddings in gray, the encoder
 * layers from purple (first) to green (last), the QA head in red.
 */
public final class TrainingDynamicsPlot {
    /** The fields of a training line that hold one number per group. */
    static final String GRAD_NORMS = "layer_grad_norms";
    static final String UPDATE_RATIOS = "layer_update_ratios";

    /** Viridis from purple to green: the encoder layers' colors, in order (its yellow end is hard to see on white). */
    private static final Color[] LAYER_COLORS = {
        new Color(68, 1, 84), new Color(59, 82, 139), new Color(33, 145, 140), new Color(94, 201, 98)};

    private TrainingDynamicsPlot() {}

    public static void write(List<JsonNode> metrics, Path png) {
        CombinedDomainXYPlot plot = new CombinedDomainXYPlot(new NumberAxis("optimizer step"));
        plot.setGap(12);
        plot.add(panel(metrics, GRAD_NORMS, "gradient norm (before clipping)", true));
        plot.add(panel(metrics, UPDATE_RATIOS, "update ratio ||dw|| / ||w||", false));
        JFreeChart chart = new JFreeChart("jbert fine-tuning: per-layer dynamics", JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        ChartFiles.writePng(chart, png, 900, 700);
    }

    /** One panel: a line per group of {@code field}; only the first panel's lines go into the legend. */
    private static XYPlot panel(List<JsonNode> metrics, String field, String label, boolean inLegend) {
        Map<String, XYSeries> series = new LinkedHashMap<>();
        double min = Double.POSITIVE_INFINITY;
        double max = 0;
        for (JsonNode line : metrics) {
            int step = line.path("step").asInt();
            for (Map.Entry<String, JsonNode> group : line.path(field).properties()) {
                double value = group.getValue().asDouble();
                XYSeries values = series.computeIfAbsent(group.getKey(), XYSeries::new);
                if (value > 0 && Double.isFinite(value)) { // a log axis has no place for 0 (the first warmup step's update)
                    values.add(step, value);
                    min = Math.min(min, value);
                    max = Math.max(max, value);
                }
            }
        }
        XYSeriesCollection data = new XYSeriesCollection();
        series.values().forEach(data::addSeries);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        int layers = (int) series.keySet().stream().filter(name -> name.startsWith("layer_")).count();
        Shape[] shapes = DefaultDrawingSupplier.createStandardSeriesShapes(); // set here, or the second panel's differ
        int s = 0;
        for (String name : series.keySet()) {
            renderer.setSeriesPaint(s, color(name, layers));
            renderer.setSeriesShape(s, shapes[s % shapes.length]);
            renderer.setSeriesStroke(s, new BasicStroke(1.5f));
            renderer.setSeriesVisibleInLegend(s, inLegend);
            s++;
        }
        LogAxis axis = new LogAxis(label);
        axis.setBase(10);
        axis.setSmallestValue(1e-12);
        if (max > 0) {
            // whole decades, a tick at each power of 10, so that the lines read at a glance
            double low = Math.floor(Math.log10(min));
            double high = Math.max(low + 1, Math.ceil(Math.log10(max)));
            axis.setRange(Math.pow(10, low), Math.pow(10, high));
            axis.setTickUnit(new NumberTickUnit(1));
        }
        axis.setMinorTickMarksVisible(true);
        axis.setNumberFormatOverride(new DecimalFormat("0E0"));
        return new XYPlot(data, null, axis, renderer);
    }

    /** Gray for the embeddings, red for the QA head, and layer i of n along {@link #LAYER_COLORS}. */
    private static Paint color(String group, int layers) {
        if (!group.startsWith("layer_")) {
            return group.equals("qa_head") ? new Color(214, 39, 40) : Color.DARK_GRAY;
        }
        int layer = Integer.parseInt(group.substring("layer_".length()));
        double position = layers < 2 ? 0 : (double) layer / (layers - 1) * (LAYER_COLORS.length - 1);
        int low = Math.min((int) position, LAYER_COLORS.length - 2);
        double t = position - low;
        Color a = LAYER_COLORS[low];
        Color b = LAYER_COLORS[low + 1];
        return new Color((int) Math.round(a.getRed() + t * (b.getRed() - a.getRed())),
                (int) Math.round(a.getGreen() + t * (b.getGreen() - a.getGreen())),
                (int) Math.round(a.getBlue() + t * (b.getBlue() - a.getBlue())));
    }
}
