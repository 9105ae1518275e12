package dev.jbert.core.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.core.model.Batch;
import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.core.model.TinyQaFixture;
import dev.jbert.core.qa.Answerer;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.cpu.CpuBackend;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.Vocab;
import dev.jbert.tokenizer.Window;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The maps hold what the forward pass computed, cut to each window of a padded batch. */
class AttentionMapsTest {
    private final Backend backend = new CpuBackend(1, true);
    private final ModelDirectory.Loaded loaded = ModelDirectory.load(TinyQaFixture.DIR, backend, 2, 40, 42);
    private final BertQa model = loaded.model();
    private final BertTokenizer tokenizer = new BertTokenizer(loaded.vocab());

    @AfterEach
    void close() {
        backend.close();
    }

    /** Two windows of different lengths: the second is padded in the batch. */
    static List<Window> twoWindows(BertTokenizer tokenizer) {
        return List.of(tokenizer.encodePair("w1 w2 w3", "w4 w5 w6 w7 w8 w9 w10 w11"), tokenizer.encodePair("w12", "w13 w14"));
    }

    /** The tiny model's maps over one short window, computed alone. */
    static AttentionMaps tinyMaps() {
        try (Backend backend = new CpuBackend(1, true)) {
            ModelDirectory.Loaded loaded = ModelDirectory.load(TinyQaFixture.DIR, backend, 1, 40, 42);
            Window window = new BertTokenizer(loaded.vocab()).encodePair("w1 w2", "w3 w4 w5 w6 w7");
            Batch batch = Answerer.batchOf(List.of(window));
            return AttentionMaps.compute(loaded.model(), batch, 0, window, loaded.vocab(), "tiny-qa");
        }
    }

    @Test
    void readsEachWindowOfAPaddedBatchAsTheForwardComputedIt() {
        List<Window> windows = twoWindows(tokenizer);
        Batch padded = Answerer.batchOf(windows);
        int t = padded.tokens();
        Window shortWindow = windows.get(1);
        int length = shortWindow.length();
        assertTrue(length < t, "the second window is padded");
        int heads = model.config().heads();
        AttentionMaps first = AttentionMaps.compute(model, padded, 0, windows.get(0), loaded.vocab(), "padded");
        AttentionMaps second = AttentionMaps.compute(model, padded, 1, shortWindow, loaded.vocab(), "padded");
        float[][] all = AttentionMaps.forward(model, padded);
        assertEquals(model.config().layers(), second.layers());
        assertEquals(heads, second.heads());
        assertEquals(length, second.length());

        for (int layer = 0; layer < model.config().layers(); layer++) {
            float[] raw = all[layer]; // [B, H, T, T]
            for (int head = 0; head < heads; head++) {
                for (int query = 0; query < length; query++) {
                    int row = ((heads + head) * t + query) * t; // sequence 1
                    for (int key = length; key < t; key++) {
                        assertEquals(0f, raw[row + key], "padding keys get nothing");
                    }
                    float sum = 0;
                    for (int key = 0; key < length; key++) {
                        assertEquals(raw[row + key], second.weight(layer, head, query, key));
                        sum += second.weight(layer, head, query, key);
                    }
                    assertEquals(1f, sum, 1e-5f, "row " + query + " of layer " + layer + " head " + head);
                }
            }
        }

        // each window alone gives the same maps: the padding changed nothing, and the cut is at the right place
        for (int w = 0; w < 2; w++) {
            Batch alone = Answerer.batchOf(List.of(windows.get(w)));
            AttentionMaps expected = AttentionMaps.compute(model, alone, 0, windows.get(w), loaded.vocab(), "alone");
            AttentionMaps actual = w == 0 ? first : second;
            for (int layer = 0; layer < expected.layers(); layer++) {
                for (int head = 0; head < heads; head++) {
                    float[] want = expected.probabilities()[layer][head];
                    float[] got = actual.probabilities()[layer][head];
                    for (int i = 0; i < want.length; i++) {
                        assertEquals(want[i], got[i], 1e-5f, "window " + w + " layer " + layer + " head " + head + " at " + i);
                    }
                }
            }
        }
        // and the heads differ, so a mix-up of heads would show
        assertNotEquals(second.weight(0, 0, 1, 1), second.weight(0, 1, 1, 1));
    }

    @Test
    void keepsTheWindowsTokensAndWhatKindTheyAre() {
        Window window = twoWindows(tokenizer).get(1); // [CLS] w12 [SEP] w13 w14 [SEP]
        Batch batch = Answerer.batchOf(List.of(window));
        AttentionMaps maps = AttentionMaps.compute(model, batch, 0, window, loaded.vocab(), "tiny");
        assertEquals(List.of(Vocab.CLS, "w12", Vocab.SEP, "w13", "w14", Vocab.SEP), maps.tokens());
        assertEquals(List.of(true, false, true, false, false, true),
                List.of(maps.special()[0], maps.special()[1], maps.special()[2], maps.special()[3], maps.special()[4],
                        maps.special()[5]));
        assertEquals(1, maps.tokenTypeIds()[3]);
        assertEquals(0, maps.tokenTypeIds()[1]);
    }
}
