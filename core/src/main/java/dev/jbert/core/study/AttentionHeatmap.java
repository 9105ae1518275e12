package dev.jbert.core.study;

import dev.jbert.core.io.AtomicFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import javax.imageio.ImageIO;

/**
 * Attention probabilities as a PNG heatmap, drawn with plain Java2D: rows are query tokens, columns
 * the key tokens they attend to, WordPiece pieces on both axes ([CLS] and [SEP] in bold red, the
 * question in blue, the context in black, a red line where the context begins). One head gets a
 * large picture with every token labelled; all heads of a layer get small multiples, one titled
 * panel per head, with labels thinned to what fits. The colour runs over the square root of the
 * probability, so that the many small weights stay visible next to the few large ones; the legend
 * is labelled in probabilities.
 */
public final class AttentionHeatmap {
    // one head: cells big enough for a legible label each
    private static final int SINGLE_MIN_CELL = 12, SINGLE_MAX_CELL = 32, SINGLE_TARGET = 1000;
    // small multiples: panel side in pixels, whatever the tokens
    private static final int PANEL_MIN = 240, PANEL_MAX = 420, PANEL_PIXELS_PER_TOKEN = 6;
    private static final int PANEL_LABEL_SIZE = 9;
    private static final int MAX_LABEL_CHARS = 18;
    private static final int MARGIN = 24, GAP = 28;
    private static final Font TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 18);
    private static final Font SUBTITLE = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
    private static final Font PANEL_TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 13);
    private static final Color SPECIAL = new Color(190, 0, 0), QUESTION = new Color(20, 70, 170), CONTEXT = new Color(30, 30, 30);
    private static final Color BOUNDARY = new Color(230, 0, 0, 170);
    /** ColorBrewer's YlGnBu, light to dark, over sqrt(probability) in [0, 1]. */
    private static final int[] RAMP = {0xffffd9, 0xedf8b1, 0xc7e9b4, 0x7fcdbb, 0x41b6c4, 0x1d91c0, 0x225ea8, 0x253494, 0x081d58};
    private static final double[] LEGEND_TICKS = {0, 0.01, 0.05, 0.1, 0.2, 0.5, 1};

    private AttentionHeatmap() {}

    /** Writes one head's heatmap, or with {@code head} null a grid of all heads of {@code layer}, atomically. */
    public static void write(AttentionMaps maps, int layer, Integer head, Path png) {
        System.setProperty("java.awt.headless", "true"); // no display needed (or wanted) to draw a PNG
        BufferedImage image = head == null ? drawLayer(maps, layer) : drawHead(maps, layer, head);
        AtomicFiles.write(png, channel -> {
            OutputStream out = Channels.newOutputStream(channel);
            if (!ImageIO.write(image, "png", out)) {
                throw new IOException("no PNG writer in this JDK");
            }
            out.flush();
        });
    }

    /** Where one head's picture puts its square: cell (q, k) is at (left + k cell, top + q cell). */
    record HeadLayout(int left, int top, int cell, Font label, int labelWidth) {
        int side(AttentionMaps maps) {
            return cell * maps.length();
        }
    }

    static HeadLayout headLayout(AttentionMaps maps) {
        int cell = Math.clamp(Math.round((float) SINGLE_TARGET / maps.length()), SINGLE_MIN_CELL, SINGLE_MAX_CELL);
        Font label = new Font(Font.SANS_SERIF, Font.PLAIN, Math.clamp(cell - 2, 9, 14));
        int labelWidth = labelWidth(maps, label);
        return new HeadLayout(MARGIN + 20 + labelWidth, MARGIN + 58, cell, label, labelWidth);
    }

    /** One head, every token labelled. */
    static BufferedImage drawHead(AttentionMaps maps, int layer, int head) {
        HeadLayout layout = headLayout(maps);
        int side = layout.side(maps);
        int legendX = layout.left() + side + GAP;
        int width = Math.max(legendX + 90 + MARGIN, 760);
        int height = layout.top() + side + layout.labelWidth() + 30 + MARGIN;
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(image);
        titles(g, maps.source() + "  ·  layer " + layer + "  ·  head " + head);
        heatmap(g, maps, layer, head, layout.left(), layout.top(), side, layout.label());
        axisNames(g, layout.left(), layout.top(), side, layout.labelWidth());
        legend(g, legendX, layout.top(), Math.min(side, 360));
        g.dispose();
        return image;
    }

    /** All heads of a layer, small multiples in a near-square grid. */
    static BufferedImage drawLayer(AttentionMaps maps, int layer) {
        int heads = maps.heads();
        int columns = (int) Math.ceil(Math.sqrt(heads));
        int rows = (heads + columns - 1) / columns;
        int side = Math.clamp((long) maps.length() * PANEL_PIXELS_PER_TOKEN, PANEL_MIN, PANEL_MAX);
        Font label = new Font(Font.SANS_SERIF, Font.PLAIN, PANEL_LABEL_SIZE);
        int labelWidth = labelWidth(maps, label);
        int panelWidth = labelWidth + 6 + side + GAP;
        int panelHeight = 20 + side + 6 + labelWidth + GAP;
        int top = MARGIN + 58;
        int width = Math.max(MARGIN + columns * panelWidth + 90 + MARGIN, 760);
        int height = top + rows * panelHeight + MARGIN;
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(image);
        titles(g, maps.source() + "  ·  layer " + layer + "  ·  all " + heads + " heads");
        for (int head = 0; head < heads; head++) {
            int x = MARGIN + (head % columns) * panelWidth + labelWidth + 6;
            int y = top + (head / columns) * panelHeight;
            g.setFont(PANEL_TITLE);
            g.setColor(Color.BLACK);
            g.drawString("head " + head, x, y + 14);
            heatmap(g, maps, layer, head, x, y + 20, side, label);
        }
        legend(g, MARGIN + columns * panelWidth, top + 20, Math.min(PANEL_MAX, rows * panelHeight - GAP));
        g.dispose();
        return image;
    }

    private static Graphics2D canvas(BufferedImage image) {
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        return g;
    }

    private static void titles(Graphics2D g, String title) {
        g.setColor(Color.BLACK);
        g.setFont(TITLE);
        g.drawString(title, MARGIN, MARGIN + 16);
        g.setFont(SUBTITLE);
        g.setColor(Color.DARK_GRAY);
        g.drawString("row: query token;  column: key token it attends to;  each row sums to 1.", MARGIN, MARGIN + 36);
        drawKey(g, MARGIN, MARGIN + 52);
    }

    /** The label colours, explained in one line. */
    private static void drawKey(Graphics2D g, int x, int y) {
        String[][] parts = {{"[CLS] [SEP]", "special tokens"}, {"blue", "question"}, {"black", "context"}};
        Color[] colors = {SPECIAL, QUESTION, CONTEXT};
        Font bold = SUBTITLE.deriveFont(Font.BOLD);
        for (int i = 0; i < parts.length; i++) {
            g.setFont(i == 0 ? bold : SUBTITLE);
            g.setColor(colors[i]);
            g.drawString(parts[i][0], x, y);
            x += g.getFontMetrics().stringWidth(parts[i][0]) + 4;
            g.setFont(SUBTITLE);
            g.setColor(Color.DARK_GRAY);
            String rest = parts[i][1] + (i < parts.length - 1 ? ";  " : ";  the red line is where the context begins.");
            g.drawString(rest, x, y);
            x += g.getFontMetrics().stringWidth(rest);
        }
    }

    /** One head's matrix as a {@code side x side} square at (x, y), with its labels left and below. */
    private static void heatmap(Graphics2D g, AttentionMaps maps, int layer, int head, int x, int y, int side, Font label) {
        int length = maps.length();
        BufferedImage cells = new BufferedImage(length, length, BufferedImage.TYPE_INT_RGB);
        for (int query = 0; query < length; query++) {
            for (int key = 0; key < length; key++) {
                cells.setRGB(key, query, color(maps.weight(layer, head, query, key)));
            }
        }
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_NEAREST_NEIGHBOR);
        g.drawImage(cells, x, y, side, side, null);
        g.setColor(Color.GRAY);
        g.drawRect(x - 1, y - 1, side + 1, side + 1);
        double cell = (double) side / length;
        int contextStart = contextStart(maps);
        if (contextStart > 0) {
            int at = (int) Math.round(contextStart * cell);
            g.setColor(BOUNDARY);
            g.setStroke(new BasicStroke(1));
            g.drawLine(x, y + at, x + side - 1, y + at);
            g.drawLine(x + at, y, x + at, y + side - 1);
        }
        g.setFont(label);
        FontMetrics metrics = g.getFontMetrics();
        AffineTransform plain = g.getTransform();
        for (int token : labelled(maps, cell, metrics.getHeight() - 1)) {
            String text = shortLabel(maps.tokens().get(token));
            g.setFont(maps.special()[token] ? label.deriveFont(Font.BOLD) : label);
            g.setColor(labelColor(maps, token));
            int baseline = (int) Math.round((token + 0.5) * cell) + metrics.getAscent() / 2 - 1;
            // rows: right-aligned left of the square; columns: rotated, reading upwards, below it
            g.drawString(text, x - 5 - g.getFontMetrics().stringWidth(text), y + baseline);
            g.translate(x + baseline, y + side + 5 + g.getFontMetrics().stringWidth(text));
            g.rotate(-Math.PI / 2);
            g.drawString(text, 0, 0);
            g.setTransform(plain);
        }
    }

    private static void axisNames(Graphics2D g, int left, int top, int side, int labelWidth) {
        g.setFont(SUBTITLE);
        g.setColor(Color.DARK_GRAY);
        String keys = "key (attended to)";
        g.drawString(keys, left + (side - g.getFontMetrics().stringWidth(keys)) / 2, top + side + labelWidth + 26);
        String queries = "query (attending)";
        AffineTransform plain = g.getTransform();
        g.translate(MARGIN + 12, top + (side + g.getFontMetrics().stringWidth(queries)) / 2);
        g.rotate(-Math.PI / 2);
        g.drawString(queries, 0, 0);
        g.setTransform(plain);
    }

    /** A vertical colour bar, darkest at the top, ticks labelled in probabilities. */
    private static void legend(Graphics2D g, int x, int y, int height) {
        int barWidth = 18;
        for (int row = 0; row < height; row++) {
            double position = 1 - (double) row / (height - 1); // sqrt(probability)
            g.setColor(new Color(ramp(position)));
            g.drawLine(x, y + row, x + barWidth - 1, y + row);
        }
        g.setColor(Color.GRAY);
        g.drawRect(x, y, barWidth - 1, height - 1);
        g.setFont(SUBTITLE);
        FontMetrics metrics = g.getFontMetrics();
        for (double tick : LEGEND_TICKS) {
            int at = y + (int) Math.round((1 - Math.sqrt(tick)) * (height - 1));
            g.setColor(Color.GRAY);
            g.drawLine(x + barWidth, at, x + barWidth + 4, at);
            g.setColor(Color.BLACK);
            g.drawString(tick == 0 || tick == 1 ? String.valueOf((int) tick) : String.valueOf(tick),
                    x + barWidth + 7, at + metrics.getAscent() / 2 - 1);
        }
        g.setColor(Color.DARK_GRAY);
        g.drawString("weight", x - 4, y + height + 18);
        g.drawString("(sqrt scale)", x - 4, y + height + 34);
    }

    /**
     * The tokens to label when a token is {@code cell} pixels wide and a label needs {@code needed}:
     * every token when they fit, else [CLS] and [SEP] first, then evenly spaced others that do not
     * collide with them.
     */
    static List<Integer> labelled(AttentionMaps maps, double cell, int needed) {
        int length = maps.length();
        int every = (int) Math.ceil(needed / cell);
        TreeSet<Integer> chosen = new TreeSet<>();
        List<Integer> candidates = new ArrayList<>();
        for (int i = 0; i < length; i++) {
            if (maps.special()[i]) {
                candidates.add(i);
            }
        }
        for (int i = 0; i < length; i += Math.max(1, every)) {
            candidates.add(i);
        }
        for (int token : candidates) {
            Integer below = chosen.floor(token), above = chosen.ceiling(token);
            if ((below == null || (token - below) * cell >= needed) && (above == null || (above - token) * cell >= needed)) {
                chosen.add(token);
            }
        }
        return List.copyOf(chosen);
    }

    private static int labelWidth(AttentionMaps maps, Font label) {
        FontMetrics metrics = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics()
                .getFontMetrics(label.deriveFont(Font.BOLD));
        return maps.tokens().stream().mapToInt(token -> metrics.stringWidth(shortLabel(token))).max().orElse(0);
    }

    private static String shortLabel(String token) {
        return token.codePointCount(0, token.length()) <= MAX_LABEL_CHARS ? token
                : token.substring(0, token.offsetByCodePoints(0, MAX_LABEL_CHARS - 1)) + "…";
    }

    private static Color labelColor(AttentionMaps maps, int token) {
        return maps.special()[token] ? SPECIAL : maps.tokenTypeIds()[token] == 0 ? QUESTION : CONTEXT;
    }

    /** The first context token, or 0 when the window is a single sequence. */
    private static int contextStart(AttentionMaps maps) {
        for (int i = 0; i < maps.length(); i++) {
            if (maps.tokenTypeIds()[i] == 1) {
                return i;
            }
        }
        return 0;
    }

    /** The colour of a probability: the ramp at its square root. */
    static int color(float probability) {
        return ramp(Math.sqrt(Math.clamp(probability, 0f, 1f)));
    }

    private static int ramp(double position) {
        double scaled = position * (RAMP.length - 1);
        int low = Math.min((int) scaled, RAMP.length - 2);
        double fraction = scaled - low;
        int rgb = 0;
        for (int shift = 16; shift >= 0; shift -= 8) {
            int a = (RAMP[low] >> shift) & 0xff, b = (RAMP[low + 1] >> shift) & 0xff;
            rgb |= (int) Math.round(a + (b - a) * fraction) << shift;
        }
        return rgb;
    }
}
