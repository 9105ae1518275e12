package dev.jbert.core.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jbert.tokenizer.CodePoints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code answer}, {@code bench} and {@code convert} as a user runs them, on the tiny fixture model. */
class ModelCommandsTest {
    static final Path TINY = Path.of("src/test/resources/fixtures/tiny-qa");

    /** "w0 w1 ... w39" in the tiny model's vocabulary: several 24-token windows at stride 8. */
    static final String LONG_CONTEXT = String.join(" ", IntStream.range(0, 40).mapToObj(i -> "w" + i).toList());

    @TempDir
    Path dir;

    record Result(int exitCode, String out, String err) {}

    static Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    void answerJsonHasTheSpanAndEveryWindowsLogits() throws IOException {
        // the tiny model's vocab is w0 .. w93: a context of 40 words needs several 24-token windows
        String context = fortyWords();
        Result result = run("answer", "--model", TINY.toString(), "--question", "  w7 w8", "--context", context,
                "--json", "--max-seq-length", "24", "--doc-stride", "8");
        assertEquals(0, result.exitCode(), result.err());
        JsonNode json = new ObjectMapper().readTree(result.out());
        JsonNode windows = json.get("windows");
        assertTrue(windows.size() > 1, "a long context is cut into windows");
        for (JsonNode window : windows) {
            int length = window.get("input_ids").size();
            assertTrue(length <= 24);
            assertEquals(length, window.get("start_logits").size());
            assertEquals(length, window.get("end_logits").size());
        }
        int start = json.get("start").asInt();
        int end = json.get("end").asInt();
        assertEquals(CodePoints.substring(context, start, end), json.get("answer").asText());
        // the score is the best window's start logit plus end logit at the answer's tokens
        assertTrue(Double.isFinite(json.get("score").asDouble()));
    }

    /** The 40-word context of the window tests: several 24-token windows. */
    private static String fortyWords() {
        StringBuilder context = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            context.append(i == 0 ? "" : " ").append("w").append(i);
        }
        return context.toString();
    }

    private static Result answer(String... extra) {
        List<String> args = new ArrayList<>(List.of("answer", "--model", TINY.toString(), "--question", "w7 w8",
                "--context", fortyWords(), "--max-seq-length", "24", "--doc-stride", "8"));
        args.addAll(List.of(extra));
        return run(args.toArray(String[]::new));
    }

    @Test
    void answerExplainsInJsonAndKeepsThePlainFields() throws IOException {
        JsonNode plain = new ObjectMapper().readTree(answer("--json").out());
        Result result = answer("--json", "--explain", "--top", "20");
        assertEquals(0, result.exitCode(), result.err());
        JsonNode json = new ObjectMapper().readTree(result.out());
        for (String field : List.of("answer", "score", "start", "end", "window")) {
            assertEquals(plain.get(field), json.get(field), field + " is the same with --explain");
        }
        JsonNode spans = json.get("spans");
        assertEquals(json.get("candidates").asInt(), spans.size(), "--top 20 keeps every candidate");
        double sum = 0;
        for (int i = 0; i < spans.size(); i++) {
            double probability = spans.get(i).get("probability").asDouble();
            assertTrue(probability > 0 && probability <= 1, spans.get(i).toString());
            if (i > 0) {
                assertTrue(probability <= spans.get(i - 1).get("probability").asDouble(), "sorted best first");
                assertTrue(spans.get(i).get("score").asDouble() <= spans.get(i - 1).get("score").asDouble());
            }
            sum += probability;
        }
        assertEquals(1, sum, 1e-9, "a softmax over the n-best");
        JsonNode best = spans.get(0);
        assertEquals(json.get("answer").asText(), best.get("text").asText(), "the best explained span is the answer");
        for (String field : List.of("score", "start", "end", "window")) {
            assertEquals(json.get(field).asDouble(), best.get(field).asDouble(), field);
        }
        for (JsonNode window : json.get("windows")) {
            int length = window.get("input_ids").size();
            assertEquals(length, window.get("tokens").size());
            assertEquals("[CLS]", window.get("tokens").get(0).asText());
            for (String field : List.of("start_probabilities", "end_probabilities")) {
                JsonNode probabilities = window.get(field);
                assertEquals(length, probabilities.size());
                assertEquals(0, probabilities.get(0).asDouble(), "[CLS] is not context");
                double windowSum = 0;
                for (JsonNode p : probabilities) {
                    windowSum += p.asDouble();
                }
                assertEquals(1, windowSum, 1e-9, field + " is a softmax over the window's context");
            }
        }

        JsonNode top3 = new ObjectMapper().readTree(answer("--json", "--explain").out()).get("spans");
        assertEquals(5, top3.size(), "five by default");
        assertEquals(best, top3.get(0));
    }

    @Test
    void answerExplainsInTheTerminalAndDrawsAPng() throws IOException {
        String plain = answer().out().strip();
        Path png = dir.resolve("plots/answer.png");
        Result result = answer("--explain", "--top", "3", "--plot", png.toString());
        assertEquals(0, result.exitCode(), result.err());
        List<String> lines = result.out().lines().toList();
        assertEquals(plain, lines.getFirst(), "the answer comes first, as without --explain");
        assertTrue(lines.get(2).startsWith("top 3 of the "), result.out());
        assertTrue(lines.get(3).startsWith("  1. "), result.out());
        assertTrue(lines.stream().anyMatch(line -> line.startsWith("> ")), "the answer's tokens are marked: " + result.out());
        assertTrue(lines.stream().allMatch(line -> line.length() <= 100), result.out());
        BufferedImage image = ImageIO.read(png.toFile());
        assertTrue(image != null && image.getWidth() >= 800 && image.getHeight() > 400, "a PNG picture");
    }

    @Test
    void badExplainOptionsAreOneLineErrors() throws IOException {
        Path aFile = Files.writeString(dir.resolve("a-file"), "not a directory");
        for (String[] extra : List.of(new String[] {"--plot", aFile.resolve("x.png").toString()},
                new String[] {"--plot", dir.toString()}, new String[] {"--explain", "--top", "0"})) {
            Result result = answer(extra);
            String what = String.join(" ", extra);
            assertEquals(Main.EXIT_USER_ERROR, result.exitCode(), what + ": " + result.err());
            assertEquals(1, result.err().strip().lines().count(), what + ": " + result.err());
            assertTrue(result.err().startsWith("jbert: "), what + ": " + result.err());
        }
    }

    @Test
    void answerPrintsTheTextAlone() {
        Result result = run("answer", "--model", TINY.toString(), "--question", "w1", "--context", "w2 w3 w4",
                "--max-seq-length", "16", "--doc-stride", "4");
        assertEquals(0, result.exitCode(), result.err());
        assertTrue(result.out().strip().matches("w[234]( w[34])*"), result.out());
    }

    @Test
    void badModelDirectoriesAreOneLineErrors() throws IOException {
        Result missing = run("answer", "--model", dir.resolve("nothing").toString(), "--question", "q", "--context", "c");
        assertEquals(Main.EXIT_USER_ERROR, missing.exitCode());
        assertEquals(1, missing.err().strip().lines().count(), missing.err());
        assertTrue(missing.err().contains("nothing/config.json: no such file"), missing.err());

        Files.copy(TINY.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(TINY.resolve("vocab.txt"), dir.resolve("vocab.txt"));
        Files.write(dir.resolve("model.safetensors"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        Result corrupt = run("answer", "--model", dir.toString(), "--question", "w1", "--context", "w2",
                "--max-seq-length", "16", "--doc-stride", "4");
        assertEquals(Main.EXIT_USER_ERROR, corrupt.exitCode());
        assertTrue(corrupt.err().startsWith("jbert: " + dir.resolve("model.safetensors") + ": header length"), corrupt.err());
        assertEquals(1, corrupt.err().strip().lines().count(), corrupt.err());
    }

    @Test
    void benchEndsWithItsJsonContract() throws IOException {
        Path config = dir.resolve("config.json");
        Files.writeString(config, "{\"vocab_size\": 99, \"hidden_size\": 32, \"num_hidden_layers\": 2, "
                + "\"num_attention_heads\": 4, \"intermediate_size\": 37, \"max_position_embeddings\": 40}");
        Result result = run("bench", "--config", config.toString(), "--batch-size", "2", "--seq-len", "16",
                "--runs", "1", "--json", "--device", "cpu");
        assertEquals(0, result.exitCode(), result.err());
        String last = result.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        JsonNode json = new ObjectMapper().readTree(last);
        assertTrue(json.get("train_step_s").asDouble() > 0);
        assertTrue(json.get("eval_forward_s").asDouble() > 0);
        assertTrue(json.get("backend").asText().startsWith("cpu"), json.toString());
        assertTrue(json.get("threads").asInt() >= 1, json.toString());
    }

    @Test
    void convertRefusesToOverwriteAndNamesAMissingCheckpoint() throws IOException {
        Result missing = run("convert", "--tf-checkpoint", dir.resolve("ckpt").toString(), "--out", dir.resolve("out").toString());
        assertEquals(Main.EXIT_USER_ERROR, missing.exitCode());
        assertTrue(missing.err().contains("ckpt.index: no such file"), missing.err());
        assertTrue(Files.notExists(dir.resolve("out")), "nothing half-written");
        try (var leftovers = Files.list(dir)) {
            assertEquals(0, leftovers.count(), "no staging directory left behind");
        }
        Files.createDirectories(dir.resolve("full"));
        Files.writeString(dir.resolve("full").resolve("x"), "x");
        Result full = run("convert", "--tf-checkpoint", dir.resolve("ckpt").toString(), "--out", dir.resolve("full").toString());
        assertEquals(Main.EXIT_USER_ERROR, full.exitCode());
        assertTrue(full.err().contains("already exists and is not empty"), full.err());
    }

    @Test
    void convertTakesExactlyOneSourceAndPrintsOneLineForABadOnnxFile() throws IOException {
        Path text = Files.writeString(dir.resolve("notes.onnx"), "hello, not a model\n");
        Result bad = run("convert", "--onnx", text.toString(), "--out", dir.resolve("out").toString());
        assertEquals(Main.EXIT_USER_ERROR, bad.exitCode());
        assertTrue(bad.err().startsWith("jbert: " + text + ": not a readable ONNX model"), bad.err());
        assertEquals(1, bad.err().lines().count(), bad.err());
        assertTrue(Files.notExists(dir.resolve("out")), "nothing half-written");

        Result both = run("convert", "--onnx", text.toString(), "--tf-checkpoint", "ckpt", "--out", dir.resolve("out").toString());
        assertEquals(Main.EXIT_USER_ERROR, both.exitCode());
        assertTrue(both.err().contains("mutually exclusive"), both.err());
        Result neither = run("convert", "--out", dir.resolve("out").toString());
        assertEquals(Main.EXIT_USER_ERROR, neither.exitCode());
        assertTrue(neither.err().contains("Missing required argument"), neither.err());
    }
}
