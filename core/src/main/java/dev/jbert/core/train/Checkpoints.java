package dev.jbert.core.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jbert.core.io.ModelFileException;
import dev.jbert.core.io.AtomicFiles;
import dev.jbert.core.io.SafeTensorsReader;
import dev.jbert.core.io.SafeTensorsWriter;
import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.BufferTransfer;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.tokenizer.Vocab;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checkpoints of a training run: {@code OUTPUT/checkpoint-epoch-N/}, each a complete model directory
 * (config.json, model.safetensors, vocab.txt: `answer` and `evaluate` load it as is) plus
 * {@code optimizer.safetensors} (AdamW's two moments, flat) and {@code trainer.json} (where the run
 * stands and its settings).
 *
 * <p>Written whole or not at all: everything goes into a hidden temporary directory first, which
 * is renamed into place only when complete. After a {@code kill -9} at any moment, the output holds
 * complete checkpoints and, at worst, a temporary directory that the next run clears away.
 */
public final class Checkpoints {
    public static final String OPTIMIZER = "optimizer.safetensors";
    public static final String STATE = "trainer.json";
    private static final Pattern NAME = Pattern.compile("checkpoint-epoch-(\\d+)");
    private static final String TEMPORARY_PREFIX = ".checkpoint-";
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Where a run stands after a checkpoint.
     *
     * @param epochsDone epochs completed
     * @param step       optimizer steps taken
     * @param microStep  batches seen (forward/backward passes): the dropout masks' step counter
     */
    public record State(int epochsDone, int step, int microStep, TrainSettings settings, int trainFeatures) {
        ObjectNode toJson() {
            ObjectNode node = JSON.createObjectNode();
            node.put("epochs_done", epochsDone);
            node.put("step", step);
            node.put("micro_step", microStep);
            node.put("train_features", trainFeatures);
            node.set("settings", settings.toJson());
            return node;
        }

        static State fromJson(JsonNode node) {
            return new State(node.path("epochs_done").asInt(), node.path("step").asInt(),
                    node.path("micro_step").asInt(), TrainSettings.fromJson(node.path("settings")),
                    node.path("train_features").asInt());
        }
    }

    private Checkpoints() {}

    /** Writes {@code OUTPUT/checkpoint-epoch-N} for {@code state.epochsDone() = N}, atomically. */
    public static Path write(Path output, BertQa model, Vocab vocab, Optimizer optimizer, State state) {
        Path target = output.resolve("checkpoint-epoch-" + state.epochsDone());
        try {
            Path temporary = Files.createTempDirectory(output, TEMPORARY_PREFIX + state.epochsDone() + ".");
            ModelDirectory.save(model, vocab, temporary);
            long[] shape = {model.layout().size()};
            SafeTensorsWriter.write(temporary.resolve(OPTIMIZER), List.of(
                    new SafeTensorsWriter.Tensor("exp_avg", shape, BufferTransfer.copyOut(model.backend(), optimizer.firstMoment())),
                    new SafeTensorsWriter.Tensor("exp_avg_sq", shape, BufferTransfer.copyOut(model.backend(), optimizer.secondMoment()))),
                    Map.of());
            AtomicFiles.writeString(temporary.resolve(STATE), JSON.writerWithDefaultPrettyPrinter()
                    .writeValueAsString(state.toJson()) + "\n");
            if (Files.exists(target)) {
                // a resumed run redoing an epoch: the old checkpoint goes only once the new one is complete
                Path old = Files.createTempDirectory(output, TEMPORARY_PREFIX + "old.");
                Files.delete(old);
                move(target, old);
                move(temporary, target);
                deleteTree(old);
            } else {
                move(temporary, target);
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + target + ": " + e.getMessage(), e);
        }
    }

    /** The latest complete checkpoint in an output directory, if any. */
    public static Optional<Path> latest(Path output) {
        if (!Files.isDirectory(output)) {
            return Optional.empty();
        }
        try (Stream<Path> entries = Files.list(output)) {
            return entries.filter(p -> NAME.matcher(p.getFileName().toString()).matches())
                    .filter(p -> Files.exists(p.resolve(STATE)))
                    .max(Comparator.comparingInt(Checkpoints::epochOf));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + output + ": " + e.getMessage(), e);
        }
    }

    /** Removes temporary directories left by a run that was killed while writing a checkpoint. */
    public static void clearLeftovers(Path output) {
        if (!Files.isDirectory(output)) {
            return;
        }
        try (Stream<Path> entries = Files.list(output)) {
            for (Path p : entries.filter(p -> p.getFileName().toString().startsWith(TEMPORARY_PREFIX)).toList()) {
                deleteTree(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean " + output + ": " + e.getMessage(), e);
        }
    }

    /** Reads a checkpoint's state; a directory that is not a complete checkpoint is a user error. */
    public static State readState(Path checkpoint) {
        Path file = checkpoint.resolve(STATE);
        if (!Files.exists(file)) {
            throw new ModelFileException(checkpoint + ": not a jbert checkpoint (no " + STATE + ")");
        }
        try {
            return State.fromJson(JSON.readTree(file.toFile()));
        } catch (IOException e) {
            throw new ModelFileException(file + ": unreadable (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }

    /** Loads AdamW's moments and step count from a checkpoint into {@code optimizer}. */
    public static void restoreOptimizer(Path checkpoint, Optimizer optimizer, BertQa model, int steps) {
        Path file = checkpoint.resolve(OPTIMIZER);
        if (!Files.exists(file)) {
            throw new ModelFileException(checkpoint + ": incomplete checkpoint (no " + OPTIMIZER + ")");
        }
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            for (String name : List.of("exp_avg", "exp_avg_sq")) {
                if (!reader.tensors().containsKey(name)) {
                    throw new ModelFileException(file + ": missing tensor " + name);
                }
                long elements = reader.tensors().get(name).elements();
                if (elements != model.layout().size()) {
                    throw new ModelFileException(file + ": " + name + " holds " + elements + " values, the model has "
                            + model.layout().size() + " parameters");
                }
                BufferTransfer.copyIn(model.backend(), reader.source(name),
                        name.equals("exp_avg") ? optimizer.firstMoment() : optimizer.secondMoment());
            }
        }
        optimizer.restoreSteps(steps);
    }

    private static int epochOf(Path checkpoint) {
        Matcher matcher = NAME.matcher(checkpoint.getFileName().toString());
        return matcher.matches() ? Integer.parseInt(matcher.group(1)) : -1;
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
