package dev.jbert.core.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jbert.core.io.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code metrics.jsonl}: one JSON object per line, written and flushed as it happens, so a plot or
 * a `tail -f` can follow a run. Training lines carry {@code "loss"} (and the per-layer
 * {@code "layer_grad_norms"} and {@code "layer_update_ratios"}, objects keyed by group), evaluation
 * lines {@code "dev_loss"}, {@code "exact_match"} and {@code "f1"}; every line has {@code "step"}.
 */
public final class MetricsLog {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private final List<JsonNode> lines = new ArrayList<>();

    /**
     * Opens {@code file}, keeping the lines of steps up to {@code keepUpToStep} (those a resumed run
     * has already done; later ones came from the part of an interrupted run that is done again).
     */
    public MetricsLog(Path file, int keepUpToStep) {
        this.file = file;
        try {
            if (Files.exists(file)) {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) {
                        continue;
                    }
                    JsonNode node;
                    try {
                        node = JSON.readTree(line);
                    } catch (IOException e) {
                        break; // a line cut short by kill -9: everything after it is lost anyway
                    }
                    if (node.path("step").asInt() <= keepUpToStep) {
                        lines.add(node);
                    }
                }
            }
            StringBuilder kept = new StringBuilder();
            for (JsonNode node : lines) {
                kept.append(JSON.writeValueAsString(node)).append('\n');
            }
            AtomicFiles.writeString(file, kept.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    public ObjectNode newLine(int step) {
        ObjectNode node = JSON.createObjectNode();
        node.put("step", step);
        return node;
    }

    public void append(ObjectNode line) {
        lines.add(line);
        try {
            Files.writeString(file, JSON.writeValueAsString(line) + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** Every line so far, oldest first. */
    public List<JsonNode> lines() {
        return lines;
    }
}
