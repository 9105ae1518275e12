package dev.jbert.core.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jbert.core.cli.ModelCommandsTest.Result;
import dev.jbert.core.io.SafeTensorsReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code train}, {@code evaluate} and {@code score} as a user runs them, on the tiny fixture model
 * (2 layers, hidden 32, a vocabulary of words w0 .. w93) and a made-up SQuAD file in those words.
 */
class TrainCommandTest {
    static final Path TINY = ModelCommandsTest.TINY;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** A SQuAD v1.1 file of {@code questions} questions over contexts of 30 words w1 .. w93. */
    static String squad(int questions, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        StringBuilder json = new StringBuilder("{\"version\": \"1.1\", \"data\": [{\"title\": \"t\", \"paragraphs\": [");
        for (int q = 0; q < questions; q++) {
            List<String> words = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                words.add("w" + random.nextInt(1, 94));
            }
            String context = String.join(" ", words);
            int first = random.nextInt(25);
            String answer = String.join(" ", words.subList(first, first + 2));
            int start = context.indexOf(answer);
            json.append(q == 0 ? "" : ",").append("{\"context\": \"").append(context).append("\", \"qas\": [{\"id\": \"q")
                    .append(q).append("\", \"question\": \"").append(words.get(first)).append(" w1\", \"answers\": [{\"text\": \"")
                    .append(answer).append("\", \"answer_start\": ").append(start).append("}]}]}");
        }
        return json.append("]}]}").toString();
    }

    private Path write(String name, String text) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, text);
        return file;
    }

    private Result train(Path output, String... extra) throws IOException {
        Path trainFile = dir.resolve("train.json");
        Path devFile = dir.resolve("dev.json");
        if (!Files.exists(trainFile)) {
            write("train.json", squad(24, 1));
            write("dev.json", squad(6, 2));
        }
        // the options of every run here; an extra option replaces its default
        Map<String, String> options = new LinkedHashMap<>();
        for (String[] option : new String[][] {{"--device", "cpu"}, {"--model", TINY.toString()},
                {"--train", trainFile.toString()}, {"--dev", devFile.toString()}, {"--output", output.toString()},
                {"--epochs", "2"}, {"--batch-size", "4"}, {"--max-seq-length", "24"}, {"--doc-stride", "8"}, {"--lr", "1e-3"}}) {
            options.put(option[0], option[1]);
        }
        for (int i = 0; i < extra.length; i += 2) {
            options.put(extra[i], extra[i + 1]);
        }
        if (options.containsKey("--resume")) {
            options.remove("--model");
        }
        List<String> args = new ArrayList<>(List.of("train"));
        options.forEach((name, value) -> args.addAll(List.of(name, value)));
        return ModelCommandsTest.run(args.toArray(String[]::new));
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.core.TestDevices#all")
    void trainsWritesCheckpointsMetricsAndAPlot(String device) throws IOException {
        Path output = dir.resolve("run");
        Result result = train(output, "--device", device);
        assertEquals(0, result.exitCode(), result.err());
        assertTrue(result.out().contains("before training: dev loss"), result.out());
        assertTrue(result.out().contains("epoch 2: dev loss"), result.out());
        for (String file : List.of("checkpoint-epoch-1/model.safetensors", "checkpoint-epoch-2/optimizer.safetensors",
                "checkpoint-epoch-2/trainer.json", "checkpoint-epoch-2/config.json", "metrics.jsonl")) {
            assertTrue(Files.exists(output.resolve(file)), file);
        }
        // the plots, unless this Java runtime cannot draw (scripts/gpu-run's trimmed one), which training says
        boolean canDraw = ModuleLayer.boot().findModule("java.desktop").isPresent();
        for (String plot : List.of("training.png", "training-dynamics.png")) {
            assertEquals(canDraw, Files.exists(output.resolve(plot)), plot);
        }
        assertEquals(!canDraw, result.out().contains("(no training.png or training-dynamics.png: this Java runtime has no java.desktop"));
        List<JsonNode> lines = metrics(output);
        assertEquals(3, lines.stream().filter(l -> l.has("f1")).count(), "dev before training and after each epoch");
        assertTrue(lines.stream().anyMatch(l -> l.has("loss") && l.has("learning_rate") && l.has("examples_per_s")));
        List<JsonNode> training = lines.stream().filter(l -> l.has("loss")).toList();
        assertTrue(training.size() >= 2, "lines every 10 steps and at each epoch's end");
        for (JsonNode line : training) {
            // per layer: the gradient norms add up (root sum of squares) to the global norm before clipping
            JsonNode norms = line.get("layer_grad_norms");
            JsonNode ratios = line.get("layer_update_ratios");
            assertEquals(List.of("embeddings", "layer_0", "layer_1", "qa_head"), fieldNames(norms), line.toString());
            assertEquals(fieldNames(norms), fieldNames(ratios));
            double sumOfSquares = 0;
            for (JsonNode norm : norms) {
                sumOfSquares += norm.asDouble() * norm.asDouble();
            }
            double global = line.get("grad_norm").asDouble();
            assertEquals(global, Math.sqrt(sumOfSquares), 1e-5 * global, line.toString());
            for (JsonNode ratio : ratios) {
                assertTrue(ratio.asDouble() > 0 && Double.isFinite(ratio.asDouble()), line.toString());
            }
        }
        // a checkpoint is a model directory: evaluate loads it, and score agrees with what evaluate printed
        Path eval = dir.resolve("eval");
        Result evaluated = ModelCommandsTest.run("evaluate", "--device", device, "--model", output.resolve("checkpoint-epoch-2").toString(),
                "--dev", dir.resolve("dev.json").toString(), "--output", eval.toString(), "--max-seq-length", "24",
                "--doc-stride", "8");
        assertEquals(0, evaluated.exitCode(), evaluated.err());
        Result scored = ModelCommandsTest.run("score", dir.resolve("dev.json").toString(), eval.resolve("predictions.json").toString());
        assertEquals(0, scored.exitCode(), scored.err());
        assertEquals(lastLine(evaluated.out()), lastLine(scored.out()));
        assertTrue(Files.exists(eval.resolve("nbest_predictions.json")));
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.core.TestDevices#all")
    void aResumedRunEndsExactlyAsAnUninterruptedOne(String device) throws IOException {
        Path whole = dir.resolve("whole");
        assertEquals(0, train(whole, "--device", device).exitCode());
        // the same run "killed" during epoch 2: only epoch 1's checkpoint and a half-written one remain
        Path cut = dir.resolve("cut");
        assertEquals(0, train(cut, "--device", device).exitCode());
        try (SafeTensorsReader a = SafeTensorsReader.open(whole.resolve("checkpoint-epoch-1/model.safetensors"));
             SafeTensorsReader b = SafeTensorsReader.open(cut.resolve("checkpoint-epoch-1/model.safetensors"))) {
            for (String name : a.tensors().keySet()) {
                assertArrayEquals(a.read(name), b.read(name), "two identical runs differ after epoch 1: " + name);
            }
        }
        deleteTree(cut.resolve("checkpoint-epoch-2"));
        Files.createDirectories(cut.resolve(".checkpoint-2.12345"));
        Files.writeString(cut.resolve(".checkpoint-2.12345/model.safetensors"), "half");
        Result resumed = train(cut, "--device", device, "--resume", cut.toString());
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertTrue(resumed.out().contains("resuming after epoch 1"), resumed.out());
        assertFalse(Files.exists(cut.resolve(".checkpoint-2.12345")), "a killed run's leftovers are cleared");
        try (SafeTensorsReader a = SafeTensorsReader.open(whole.resolve("checkpoint-epoch-2/model.safetensors"));
             SafeTensorsReader b = SafeTensorsReader.open(cut.resolve("checkpoint-epoch-2/model.safetensors"))) {
            for (String name : a.tensors().keySet()) {
                assertArrayEquals(a.read(name), b.read(name), name);
            }
        }
        List<JsonNode> expected = metrics(whole);
        List<JsonNode> actual = metrics(cut);
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            for (String field : List.of("step", "loss", "dev_loss", "exact_match", "f1", "layer_grad_norms", "layer_update_ratios")) {
                assertEquals(expected.get(i).path(field).toString(), actual.get(i).path(field).toString(), field + " of line " + i);
            }
        }
    }

    @Test
    void aNonFiniteLossStopsWithTheStep() throws IOException {
        Result result = train(dir.resolve("nan"), "--lr", "1e30", "--warmup-ratio", "0");
        assertEquals(Main.EXIT_USER_ERROR, result.exitCode(), result.out());
        assertTrue(result.err().matches("(?s)jbert: the training loss is (NaN|Infinity) at step \\d+ .*"), result.err());
        assertEquals(1, result.err().strip().lines().count(), result.err());
    }

    @Test
    void badInputsAreOneLineErrors() throws IOException {
        Path config = Files.createDirectories(dir.resolve("no-config"));
        Files.copy(TINY.resolve("model.safetensors"), config.resolve("model.safetensors"));
        Path aFile = write("a-file", "not a directory"); // an output below a file cannot be created, even by root
        Path otherRun = dir.resolve("other");
        assertEquals(0, train(otherRun, "--epochs", "1").exitCode());
        List<String[]> cases = List.of(
                new String[] {"--train", dir.resolve("missing.json").toString()},
                new String[] {"--train", write("malformed.json", "{\"data\": [").toString()},
                new String[] {"--train", write("not-squad.json", "{\"rows\": []}").toString()},
                new String[] {"--train", write("empty.json", "{\"data\": []}").toString()},
                new String[] {"--train", write("unalignable.json", squad(1, 4).replaceAll("\"text\": \"[^\"]*\"", "\"text\": \"w0 zz\"")).toString()},
                new String[] {"--model", config.toString()},
                new String[] {"--max-seq-length", "64"},
                new String[] {"--doc-stride", "24"},
                new String[] {"--output", aFile.resolve("run").toString()},
                new String[] {"--resume", otherRun.toString(), "--epochs", "2"},
                new String[] {"--resume", dir.resolve("nothing-here").toString()});
        for (String[] extra : cases) {
            Result result = train(dir.resolve("bad-" + Math.abs(String.join(" ", extra).hashCode())), extra);
            String what = String.join(" ", extra);
            assertEquals(Main.EXIT_USER_ERROR, result.exitCode(), what + ": " + result.err());
            assertEquals(1, result.err().strip().lines().count(), what + ": " + result.err());
            assertTrue(result.err().startsWith("jbert: "), what + ": " + result.err());
        }
    }

    @Test
    void scoreNamesBadPredictionFiles() throws IOException {
        Path dev = write("dev.json", squad(3, 5));
        Result missing = ModelCommandsTest.run("score", dev.toString(), dir.resolve("none.json").toString());
        assertEquals(Main.EXIT_USER_ERROR, missing.exitCode());
        assertTrue(missing.err().contains("none.json"), missing.err());
        Result notStrings = ModelCommandsTest.run("score", dev.toString(), write("p.json", "{\"q0\": 3}").toString());
        assertEquals(Main.EXIT_USER_ERROR, notStrings.exitCode());
        assertTrue(notStrings.err().contains("q0"), notStrings.err());
        Result partial = ModelCommandsTest.run("score", dev.toString(), write("p2.json", "{\"q0\": \"\"}").toString());
        assertEquals(0, partial.exitCode(), partial.err());
        assertEquals("{\"exact_match\": 0.0, \"f1\": 0.0}", lastLine(partial.out()));
    }

    private static List<JsonNode> metrics(Path output) throws IOException {
        List<JsonNode> lines = new ArrayList<>();
        for (String line : Files.readAllLines(output.resolve("metrics.jsonl"))) {
            lines.add(JSON.readTree(line));
        }
        return lines;
    }

    private static List<String> fieldNames(JsonNode object) {
        List<String> names = new ArrayList<>();
        object.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static String lastLine(String text) {
        return text.strip().lines().reduce((a, b) -> b).orElse("");
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
