package dev.jbert.core.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.TokenizerException;
import dev.jbert.tokenizer.Truncation;
import dev.jbert.tokenizer.Vocab;
import dev.jbert.tokenizer.Window;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

/**
 * {@code jbert tokenize}: JSON lines in, JSON lines out. The contract other tools rely on:
 * <pre>
 * in:  {"text": "..."}  or  {"question": "...", "context": "..."}
 * out: {"windows": [{"input_ids": [...], "token_type_ids": [...], "offsets": [[start, end] or null, ...]}, ...]}
 * </pre>
 * Offsets count code points of the text, or of the question or context for pair tokens; special
 * tokens have null.
 */
@Command(name = "tokenize",
        mixinStandardHelpOptions = true,
        description = {
            "Tokenize JSON lines from stdin, as Hugging Face's BertTokenizerFast would.",
            "Each line is {\"text\": ...} or {\"question\": ..., \"context\": ...}; each output line is",
            "{\"windows\": [{\"input_ids\": [...], \"token_type_ids\": [...], \"offsets\": [[start, end] | null, ...]}]}.",
            "Offsets count code points. Blank lines are skipped."})
final class TokenizeCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    @Spec
    CommandSpec spec;

    @Option(names = "--vocab", paramLabel = "FILE", description = "WordPiece vocab, one token per line (default: the bundled bert-base-uncased vocab).")
    Path vocabFile;

    @Option(names = "--max-length", paramLabel = "N", description = "Cut into windows of at most N tokens, specials included; only the context of a pair is cut (default: no truncation, one window).")
    Integer maxLength;

    @Option(names = "--stride", paramLabel = "N", description = "Context tokens shared by consecutive windows, as in Hugging Face (default: 0). Needs --max-length.")
    Integer stride;

    @Override
    public Integer call() throws IOException {
        if (stride != null && maxLength == null) throw new UserError("--stride needs --max-length");
        Truncation truncation = maxLength == null ? null : new Truncation(maxLength, stride == null ? 0 : stride);
        BertTokenizer tokenizer = new BertTokenizer(vocabFile == null ? Vocab.bertBaseUncased() : Vocab.load(vocabFile));

        var in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16);
        Writer out = spec.commandLine().getOut();
        try (JsonGenerator json = new JsonFactory().createGenerator(out).disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET)) {
            json.setRootValueSeparator(null);
            int lineNumber = 0;
            for (String line; (line = in.readLine()) != null; ) {
                lineNumber++;
                if (line.isBlank()) continue;
                List<Window> windows = encode(tokenizer, parse(line, lineNumber), truncation, lineNumber);
                write(json, windows);
                json.flush();
                out.write('\n');
            }
        }
        out.flush();
        return 0;
    }

    private static JsonNode parse(String line, int lineNumber) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new UserError("stdin line " + lineNumber + ": not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (node == null || !node.isObject()) throw new UserError("stdin line " + lineNumber + ": expected a JSON object");
        return node;
    }

    private static List<Window> encode(BertTokenizer tokenizer, JsonNode input, Truncation truncation, int lineNumber) {
        boolean single = input.has("text");
        boolean pair = input.has("question") || input.has("context");
        if (single == pair) {
            throw new UserError("stdin line " + lineNumber + ": expected {\"text\": ...} or {\"question\": ..., \"context\": ...}");
        }
        try {
            if (single) {
                String text = string(input, "text", lineNumber);
                return truncation == null ? List.of(tokenizer.encode(text)) : tokenizer.encode(text, truncation);
            }
            String question = string(input, "question", lineNumber), context = string(input, "context", lineNumber);
            return truncation == null ? List.of(tokenizer.encodePair(question, context)) : tokenizer.encodePair(question, context, truncation);
        } catch (TokenizerException e) {
            throw new UserError("stdin line " + lineNumber + ": " + e.getMessage());
        }
    }

    private static String string(JsonNode input, String field, int lineNumber) {
        JsonNode value = input.get(field);
        if (value == null || !value.isTextual()) {
            throw new UserError("stdin line " + lineNumber + ": field \"" + field + "\" must be a string");
        }
        return value.textValue();
    }

    private static void write(JsonGenerator json, List<Window> windows) throws IOException {
        json.writeStartObject();
        json.writeArrayFieldStart("windows");
        for (Window window : windows) {
            json.writeStartObject();
            json.writeFieldName("input_ids");
            json.writeArray(window.inputIds(), 0, window.length());
            json.writeFieldName("token_type_ids");
            json.writeArray(window.tokenTypeIds(), 0, window.length());
            json.writeArrayFieldStart("offsets");
            for (int i = 0; i < window.length(); i++) {
                if (window.isSpecial(i)) {
                    json.writeNull();
                } else {
                    json.writeStartArray();
                    json.writeNumber(window.offsetStarts()[i]);
                    json.writeNumber(window.offsetEnds()[i]);
                    json.writeEndArray();
                }
            }
            json.writeEndArray();
            json.writeEndObject();
        }
        json.writeEndArray();
        json.writeEndObject();
    }
}
