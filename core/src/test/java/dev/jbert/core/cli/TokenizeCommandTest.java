package dev.jbert.core.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.Truncation;
import dev.jbert.tokenizer.Window;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code jbert tokenize} contract: JSON lines in, windows out, one-line errors with exit code 2. */
class TokenizeCommandTest {
    static final BertTokenizer TOKENIZER = BertTokenizer.bertBaseUncased();

    record Result(int exitCode, String out, String err) {}

    static Result tokenize(String stdin, String... args) {
        InputStream saved = System.in;
        StringWriter out = new StringWriter(), err = new StringWriter();
        try {
            System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
            String[] all = new String[args.length + 1];
            all[0] = "tokenize";
            System.arraycopy(args, 0, all, 1, args.length);
            int code = Main.run(new PrintWriter(out), new PrintWriter(err), all);
            return new Result(code, out.toString(), err.toString());
        } finally {
            System.setIn(saved);
        }
    }

    static void assertWindow(Window expected, JsonNode actual) {
        for (int i = 0; i < expected.length(); i++) {
            assertEquals(expected.inputIds()[i], actual.get("input_ids").get(i).intValue());
            assertEquals(expected.tokenTypeIds()[i], actual.get("token_type_ids").get(i).intValue());
            JsonNode offset = actual.get("offsets").get(i);
            if (expected.isSpecial(i)) {
                assertTrue(offset.isNull());
            } else {
                assertEquals(expected.offsetStarts()[i], offset.get(0).intValue());
                assertEquals(expected.offsetEnds()[i], offset.get(1).intValue());
            }
        }
        assertEquals(expected.length(), actual.get("input_ids").size());
        assertEquals(expected.length(), actual.get("offsets").size());
    }

    @Test
    void textsAndPairsInOrder() throws Exception {
        String context = "The café opened in 1999 😀. It closed later.";
        Result r = tokenize("{\"text\": \"Héllo, world!\"}\n\n{\"question\": \"When?\", \"context\": \"" + context + "\"}\n");
        assertEquals(0, r.exitCode(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(2, lines.length);
        var json = new ObjectMapper();
        assertWindow(TOKENIZER.encode("Héllo, world!"), json.readTree(lines[0]).get("windows").get(0));
        assertWindow(TOKENIZER.encodePair("When?", context), json.readTree(lines[1]).get("windows").get(0));
    }

    @Test
    void maxLengthAndStrideMakeWindows() throws Exception {
        String context = "one two three four five six seven eight nine ten";
        Result r = tokenize("{\"question\": \"q\", \"context\": \"" + context + "\"}\n", "--max-length", "8", "--stride", "2");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode windows = new ObjectMapper().readTree(r.out()).get("windows");
        List<Window> expected = TOKENIZER.encodePair("q", context, new Truncation(8, 2));
        assertEquals(expected.size(), windows.size());
        for (int w = 0; w < expected.size(); w++) assertWindow(expected.get(w), windows.get(w));
    }

    @Test
    void customVocab(@TempDir Path dir) throws Exception {
        Path vocab = Files.writeString(dir.resolve("v.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhi\n");
        Result r = tokenize("{\"text\": \"hi there\"}\n", "--vocab", vocab.toString());
        assertEquals("[2,5,1,3]", new ObjectMapper().readTree(r.out()).get("windows").get(0).get("input_ids").toString());
    }

    @Test
    void badInputNamesTheLineAndExitsWith2() {
        assertUserError(tokenize("{\"text\": \"ok\"}\n{not json\n"), "stdin line 2: not valid JSON");
        assertUserError(tokenize("[1, 2]\n"), "stdin line 1: expected a JSON object");
        assertUserError(tokenize("{\"text\": \"a\"} {\"text\": \"b\"}\n"), "stdin line 1: not valid JSON");
        assertUserError(tokenize("{\"words\": \"x\"}\n"), "stdin line 1: expected {\"text\"");
        assertUserError(tokenize("{\"text\": 5}\n"), "stdin line 1: field \"text\" must be a string");
        assertUserError(tokenize("{\"question\": \"q\"}\n"), "stdin line 1: field \"context\" must be a string");
        assertUserError(tokenize("{\"question\": \"a b c d e f\", \"context\": \"x y z w\"}\n", "--max-length", "8"),
                "stdin line 1: the question is 6 tokens");
    }

    @Test
    void badOptionsAreOneLineErrors(@TempDir Path dir) {
        assertUserError(tokenize("", "--stride", "3"), "--stride needs --max-length");
        assertUserError(tokenize("", "--max-length", "8", "--stride", "8"), "stride 8 must be smaller than max length 8");
        assertUserError(tokenize("", "--vocab", dir.resolve("none.txt").toString()), "none.txt: not found");
    }

    private static void assertUserError(Result r, String message) {
        assertEquals(Main.EXIT_USER_ERROR, r.exitCode(), r.out() + r.err());
        assertTrue(r.err().startsWith("jbert: ") && r.err().contains(message), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }
}
