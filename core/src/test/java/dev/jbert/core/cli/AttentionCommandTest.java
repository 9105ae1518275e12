package dev.jbert.core.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jbert.core.cli.ModelCommandsTest.Result;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jbert attention} as a user runs it, on the tiny fixture model. */
class AttentionCommandTest {
    static final String TINY = ModelCommandsTest.TINY.toString();

    @TempDir
    Path dir;


    @Test
    void drawsOneHeadOrAllHeadsAsPng() throws IOException {
        Path one = dir.resolve("head.png");
        Result result = ModelCommandsTest.run("attention", "--model", TINY, "--question", "w1 w2", "--context", "w3 w4 w5",
                "--layer", "1", "--head", "3", "--out", one.toString());
        assertEquals(0, result.exitCode(), result.err());
        assertTrue(result.out().startsWith("window 0 of 0..0 (8 tokens; context tokens [0, 3) of 3), the only one"), result.out());
        BufferedImage image = ImageIO.read(one.toFile());
        assertNotNull(image, "a PNG");
        assertTrue(image.getWidth() >= 8 * 32 && image.getWidth() < 1500, "width " + image.getWidth());

        Path all = dir.resolve("layer.png");
        assertEquals(0, ModelCommandsTest.run("attention", "--model", TINY, "--question", "w1 w2", "--context", "w3 w4 w5",
                "--out", all.toString()).exitCode());
        BufferedImage grid = ImageIO.read(all.toFile());
        assertTrue(grid.getWidth() >= 2 * 240 && grid.getHeight() >= 2 * 240 && grid.getHeight() > image.getHeight(), "four panels");
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of("head.png", "layer.png"), files.map(p -> p.getFileName().toString()).sorted().toList(),
                    "no temporary files left behind");
        }
    }

    @Test
    void writesThePageForTheWindowOfTheBestAnswer() throws IOException {
        Result answer = ModelCommandsTest.run("answer", "--model", TINY, "--question", "w7 w8", "--context", ModelCommandsTest.LONG_CONTEXT,
                "--json", "--max-seq-length", "24", "--doc-stride", "8");
        int best = new ObjectMapper().readTree(answer.out()).get("window").asInt();
        int windows = new ObjectMapper().readTree(answer.out()).get("windows").size();

        Path page = dir.resolve("attention.html");
        Result result = ModelCommandsTest.run("attention", "--model", TINY, "--question", "w7 w8", "--context", ModelCommandsTest.LONG_CONTEXT,
                "--max-seq-length", "24", "--doc-stride", "8", "--out", page.toString());
        assertEquals(0, result.exitCode(), result.err());
        assertTrue(result.out().startsWith("window " + best + " of 0.." + (windows - 1) + " ("),
                result.out());
        assertTrue(result.out().contains("the one holding the best answer, \""), result.out());
        String html = Files.readString(page, StandardCharsets.UTF_8);
        assertTrue(html.contains("tiny-qa  ·  window " + best + " of 0.." + (windows - 1)), "the title names the window");

        Result asked = ModelCommandsTest.run("attention", "--model", TINY, "--question", "w7 w8", "--context", ModelCommandsTest.LONG_CONTEXT,
                "--max-seq-length", "24", "--doc-stride", "8", "--window", "1", "--out", page.toString());
        assertEquals(0, asked.exitCode(), asked.err());
        assertTrue(asked.out().startsWith("window 1 of 0.." + (windows - 1) + " (24 tokens; context tokens ["), asked.out());
        assertTrue(asked.out().contains("as asked"), asked.out());
    }

    @Test
    void badInputIsOneLineAndWritesNothing() throws IOException {
        assertOneLineError("unknown kind of file (give a .png or a .html name)",
                "attention", "--model", TINY, "--question", "w1", "--context", "w2 w3", "--out", dir.resolve("a.jpg").toString());
        assertOneLineError("--layer 2 is out of range 0..1 (the model has 2 layers)",
                "attention", "--model", TINY, "--question", "w1", "--context", "w2 w3", "--out", dir.resolve("a.png").toString(),
                "--layer", "2");
        assertOneLineError("--head 4 is out of range 0..3 (the model has 4 heads per layer)",
                "attention", "--model", TINY, "--question", "w1", "--context", "w2 w3", "--out", dir.resolve("a.png").toString(),
                "--head", "4");
        assertOneLineError("--head -1 is out of range",
                "attention", "--model", TINY, "--question", "w1", "--context", "w2 w3", "--out", dir.resolve("a.html").toString(),
                "--head", "-1");
        assertOneLineError("--window 1 is out of range 0..0 (the context makes 1 window)",
                "attention", "--model", TINY, "--question", "w1", "--context", "w2 w3", "--out", dir.resolve("a.html").toString(),
                "--window", "1");
        assertOneLineError("nothing/config.json",
                "attention", "--model", dir.resolve("nothing").toString(), "--question", "w1", "--context", "w2 w3",
                "--out", dir.resolve("a.png").toString());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(0, files.count(), "no file written");
        }
        Files.writeString(dir.resolve("blocker"), "a file, not a directory");
        assertOneLineError("cannot write " + dir.resolve("blocker/a.png"),
                "attention", "--model", TINY, "--question", "w1", "--context", "w2 w3", "--out", dir.resolve("blocker/a.png").toString());
    }

    private static void assertOneLineError(String message, String... args) {
        Result result = ModelCommandsTest.run(args);
        assertEquals(Main.EXIT_USER_ERROR, result.exitCode(), result.err());
        assertEquals(1, result.err().strip().lines().count(), result.err());
        assertTrue(result.err().startsWith("jbert: ") && result.err().contains(message), result.err());
        assertFalse(result.err().contains("Exception"), result.err());
    }
}
