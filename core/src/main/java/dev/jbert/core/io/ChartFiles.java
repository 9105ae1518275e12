package dev.jbert.core.io;

import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Path;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;

/**
 * A JFreeChart drawn into a PNG file, atomically (see {@link AtomicFiles}). Drawing needs the
 * java.desktop module: a trimmed Java runtime without it throws a {@link LinkageError} here, which
 * callers catch to say so.
 */
public final class ChartFiles {
    private ChartFiles() {}

    public static void writePng(JFreeChart chart, Path png, int width, int height) {
        System.setProperty("java.awt.headless", "true"); // no display needed (or wanted) to draw a PNG
        AtomicFiles.write(png, channel -> {
            OutputStream out = Channels.newOutputStream(channel);
            ChartUtils.writeChartAsPNG(out, chart, width, height);
            out.flush();
        });
    }
}
