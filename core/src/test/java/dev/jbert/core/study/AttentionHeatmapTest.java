package dev.jbert.core.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The PNG heatmap shows the maps' numbers, with room for the labels. */
class AttentionHeatmapTest {
    @Test
    void eachCellHasTheColourOfItsProbability() {
        AttentionMaps maps = AttentionMapsTest.tinyMaps();
        int layer = 1, head = 2;
        BufferedImage image = AttentionHeatmap.drawHead(maps, layer, head);
        AttentionHeatmap.HeadLayout layout = AttentionHeatmap.headLayout(maps);
        int cell = layout.cell();
        for (int query = 0; query < maps.length(); query++) {
            for (int key = 0; key < maps.length(); key++) {
                int x = layout.left() + key * cell + cell / 2, y = layout.top() + query * cell + cell / 2;
                assertEquals(AttentionHeatmap.color(maps.weight(layer, head, query, key)), image.getRGB(x, y) & 0xffffff,
                        "cell " + query + " -> " + key);
            }
        }
        // a short window gets big cells, and room around them for labels, title and legend
        assertEquals(32, cell);
        int side = cell * maps.length();
        assertTrue(image.getWidth() > side + 150 && image.getWidth() < side + 600, "width " + image.getWidth());
        assertTrue(image.getHeight() > side + 100 && image.getHeight() < side + 400, "height " + image.getHeight());
    }

    @Test
    void colourGrowsWithProbability() {
        int previous = -1;
        for (float p : new float[] {0, 0.01f, 0.1f, 0.5f, 1}) {
            int rgb = AttentionHeatmap.color(p);
            int brightness = ((rgb >> 16) & 0xff) + ((rgb >> 8) & 0xff) + (rgb & 0xff);
            assertTrue(previous < 0 || brightness < previous, "darker at " + p);
            previous = brightness;
        }
        assertNotEquals(AttentionHeatmap.color(0), AttentionHeatmap.color(0.01f), "small weights stay visible");
    }

    @Test
    void aLayerGridHasAPanelPerHead() {
        AttentionMaps maps = AttentionMapsTest.tinyMaps();
        BufferedImage grid = AttentionHeatmap.drawLayer(maps, 0);
        BufferedImage one = AttentionHeatmap.drawHead(maps, 0, 0);
        // 4 heads in 2 x 2 panels of at least 240 pixels
        assertTrue(grid.getWidth() >= 2 * 240 && grid.getHeight() >= 2 * 240, grid.getWidth() + " x " + grid.getHeight());
        assertTrue(grid.getWidth() < 2000 && grid.getHeight() < 2000, grid.getWidth() + " x " + grid.getHeight());
        assertTrue(one.getWidth() < 2000);
    }

    @Test
    void longWindowsKeepLabelsApartAndSpecialTokensLabelled() {
        int n = 300;
        String[] tokens = new String[n];
        boolean[] special = new boolean[n];
        Arrays.fill(tokens, "w");
        for (int i : new int[] {0, 17, 299}) {
            special[i] = true;
        }
        AttentionMaps maps = new AttentionMaps("long", List.of(tokens), new int[n], special, new float[1][1][n * n]);
        double cell = 400.0 / n;
        List<Integer> labelled = AttentionHeatmap.labelled(maps, cell, 10);
        assertTrue(labelled.containsAll(List.of(0, 17, 299)), "[CLS] and [SEP] always get a label");
        for (int i = 1; i < labelled.size(); i++) {
            assertTrue((labelled.get(i) - labelled.get(i - 1)) * cell >= 10, "labels overlap at " + labelled.get(i));
        }
        assertTrue(labelled.size() > 30, "as many labels as fit: " + labelled.size());
        assertEquals(n, AttentionHeatmap.labelled(maps, 12, 10).size(), "every token when they fit");
    }
}
