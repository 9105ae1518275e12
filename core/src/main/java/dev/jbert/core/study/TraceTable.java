package dev.jbert.core.study;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A trace as an aligned text table, one row per tensor in computation order, a blank line where
 * the layer changes. Parameter names lose the prefix the layer column already says
 * ({@code bert.encoder.layer.3.}).
 */
public final class TraceTable {
    private static final String[] HEADER = {"#", "layer", "name", "shape", "axes", "mean", "std", "min", "max", "zeros"};
    private static final boolean[] RIGHT = {true, true, false, false, false, true, true, true, true, true};

    private TraceTable() {}

    public static void write(PrintWriter out, List<TracedTensor> tensors) {
        List<String[]> rows = new ArrayList<>();
        rows.add(HEADER);
        for (int k = 0; k < tensors.size(); k++) {
            TracedTensor tensor = tensors.get(k);
            TensorStats s = tensor.stats();
            rows.add(new String[] {
                String.valueOf(k + 1), tensor.layer() < 0 ? "" : String.valueOf(tensor.layer()), displayName(tensor),
                tensor.shapeText(), tensor.axes() == null ? "" : tensor.axes(),
                number(s.mean()), number(s.std()), number(s.min()), number(s.max()),
                String.format(Locale.ROOT, "%.1f%%", 100 * s.zeroFraction())});
        }
        int[] widths = new int[HEADER.length];
        for (String[] row : rows) {
            for (int col = 0; col < row.length; col++) {
                widths[col] = Math.max(widths[col], row[col].length());
            }
        }
        for (int r = 0; r < rows.size(); r++) {
            if (r > 1 && tensors.get(r - 1).layer() != tensors.get(r - 2).layer()) {
                out.println();
            }
            StringBuilder line = new StringBuilder();
            String[] row = rows.get(r);
            for (int col = 0; col < row.length; col++) {
                String pad = " ".repeat(widths[col] - row[col].length());
                line.append(col == 0 ? "" : "  ").append(RIGHT[col] ? pad + row[col] : row[col] + pad);
            }
            out.println(line.toString().stripTrailing());
        }
    }

    /** Four significant digits: 0.01234, 1.234e-05, -3.142. */
    public static String number(double value) {
        return String.format(Locale.ROOT, "%.4g", value);
    }

    private static String displayName(TracedTensor tensor) {
        String name = tensor.name();
        if (name.startsWith("bert.encoder.layer.")) {
            return name.substring(name.indexOf('.', "bert.encoder.layer.".length()) + 1);
        }
        return name.startsWith("bert.") ? name.substring("bert.".length()) : name;
    }
}
