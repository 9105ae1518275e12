package dev.jbert.core.cli;

import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.kernels.Backend;
import dev.jbert.tokenizer.Window;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;

/** Loading a model to read one question's windows: shared by {@code answer}, {@code attention} and {@code trace}. */
final class WindowModel {
    /** Windows per forward pass. */
    private static final int MAX_BATCH = 8;
    /**
     * Seeds the initialization of a missing QA head, so that even an untrained model answers
     * reproducibly, and the three commands see the same head.
     */
    private static final long HEAD_SEED = 42;

    private WindowModel() {}

    /**
     * The model in {@code dir}, sized for these windows only (a short context needs a fraction of
     * 8 x 384); what the loader had to do (e.g. initialize the QA head) is printed to {@code err}.
     */
    static BertQa load(Path dir, Backend backend, List<Window> windows, PrintWriter err) {
        int longest = windows.stream().mapToInt(Window::length).max().orElseThrow();
        ModelDirectory.Loaded loaded = ModelDirectory.load(dir, backend, Math.min(windows.size(), MAX_BATCH), longest,
                HEAD_SEED);
        loaded.notes().forEach(note -> err.println("jbert: " + note));
        return loaded.model();
    }
}
