package dev.jbert.core.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jbert.core.cli.ModelCommandsTest.Result;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jbert trace} on the tiny fixture model (2 layers, 4 heads, hidden 32, vocab w0 .. w93). */
class TraceCommandTest {
    static final String TINY = ModelCommandsTest.TINY.toString();

    @TempDir
    Path dir;


    static Result trace(String... args) {
        List<String> all = new ArrayList<>(List.of("trace", "--model", TINY, "--device", "cpu"));
        all.addAll(List.of(args));
        return ModelCommandsTest.run(all.toArray(String[]::new));
    }

    @Test
    void theTableShowsEveryLayerInOrder() {
        Result result = trace("--question", "w1 w2", "--context", "w3 w4 w5 w6");
        assertEquals(0, result.exitCode(), result.err());
        String out = result.out();
        // [CLS] w1 w2 [SEP] w3 w4 w5 w6 [SEP]: 9 tokens
        assertTrue(out.contains("window    0 (the only one), 9 tokens"), out);
        int layer0 = out.indexOf("  0  probs ");
        int layer1 = out.indexOf("  1  probs ");
        assertTrue(layer0 > 0 && layer1 > layer0, out);
        assertTrue(out.substring(layer1).contains("[1, 4, 9, 9]"), out);
        assertTrue(out.indexOf("logitsByPosition") > layer1, out);
        assertTrue(!out.contains("backward"), "no backward unless asked");
    }

    @Test
    void jsonHasTheForwardAndTheBackwardWithTheirShapes() throws IOException {
        Result result = trace("--question", "w1", "--context", "w3 w4 w5 w6", "--json", "--backward",
                "--answer-start", "4", "--answer-end", "5");
        assertEquals(0, result.exitCode(), result.err());
        JsonNode json = new ObjectMapper().readTree(result.out());
        int t = json.get("window").get("input_ids").size();
        assertEquals(8, t);
        assertEquals(4, json.get("gold").get("start_token").asInt());
        assertTrue(json.get("loss").asDouble() > 0);
        for (String pass : List.of("forward", "backward")) {
            for (int layer = 0; layer < 2; layer++) {
                String name = pass.equals("forward") ? "probs" : "dScores";
                JsonNode tensor = find(json.get(pass), name, layer);
                assertEquals("[1,4," + t + "," + t + "]", tensor.get("shape").toString(), pass + " " + name);
                assertTrue(tensor.get("std").asDouble() > 0, tensor.toString());
            }
        }
        JsonNode probs = find(json.get("forward"), "probs", 1);
        assertEquals(1.0 / t, probs.get("mean").asDouble(), 1e-6, "each row of probabilities sums to 1");
        JsonNode weight = find(json.get("backward"), "bert.encoder.layer.0.intermediate.dense.weight", 0);
        assertEquals("[37,32]", weight.get("shape").toString());
        assertTrue(weight.get("axes").isNull());
    }

    @Test
    void anAnswerPicksTheWindowHoldingItAndLabelsItsTokens() throws IOException {
        Result result = trace("--question", "w1", "--context", ModelCommandsTest.LONG_CONTEXT, "--answer", "w30 w31", "--backward",
                "--json", "--max-seq-length", "24", "--doc-stride", "8");
        assertEquals(0, result.exitCode(), result.err());
        JsonNode json = new ObjectMapper().readTree(result.out());
        JsonNode window = json.get("window");
        assertTrue(window.get("count").asInt() > 1);
        assertTrue(window.get("index").asInt() > 0, "w30 is not in the first window");
        JsonNode tokens = window.get("tokens");
        assertEquals("w30", tokens.get(json.get("gold").get("start_token").asInt()).asText());
        assertEquals("w31", tokens.get(json.get("gold").get("end_token").asInt()).asText());

        Result wrongWindow = trace("--question", "w1", "--context", ModelCommandsTest.LONG_CONTEXT, "--answer", "w30", "--backward",
                "--window", "0", "--max-seq-length", "24", "--doc-stride", "8");
        assertOneLineError(wrongWindow, "is not wholly inside window 0");
    }

    @Test
    void badInputIsOneLineAndExitCodeTwo() {
        assertOneLineError(ModelCommandsTest.run("trace", "--model", dir.resolve("nothing").toString(),
                "--question", "q", "--context", "c"), "nothing/config.json: no such file");
        assertOneLineError(trace("--question", "w1", "--context", "w2 w3", "--backward"), "--backward needs the answer");
        assertOneLineError(trace("--question", "w1", "--context", "w2 w3", "--backward", "--answer-start", "2",
                "--answer-end", "6"), "answer position 6 is outside window 0 (6 tokens, 0 .. 5)");
        assertOneLineError(trace("--question", "w1", "--context", "w2 w3", "--answer", "w9"), "is not in the context");
        assertOneLineError(trace("--question", "w1", "--context", "w2 w3", "--window", "1"), "--window 1");
        assertOneLineError(trace("--question", "w1", "--context", "w2 w3", "--answer-start", "2"), "go together");
    }

    private static void assertOneLineError(Result result, String expected) {
        assertEquals(Main.EXIT_USER_ERROR, result.exitCode(), result.err());
        assertEquals(1, result.err().strip().lines().count(), result.err());
        assertTrue(result.err().startsWith("jbert: ") && result.err().contains(expected), result.err());
    }

    private static JsonNode find(JsonNode tensors, String name, int layer) {
        for (JsonNode tensor : tensors) {
            if (tensor.get("name").asText().equals(name) && tensor.get("layer").asInt(-1) == layer) {
                return tensor;
            }
        }
        throw new AssertionError("no " + name + " in layer " + layer);
    }
}
