package dev.jbert.core.squad;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a SQuAD v1.1 or v2.0 JSON file:
 * <pre>
 * {"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question", "answers": [{"text", "answer_start"}],
 *                                                        "is_impossible" (v2.0 only)}]}]}]}
 * </pre>
 * into one {@link SquadExample} per question, then aligns the answers ({@link AnswerAligner}).
 * v2.0's unanswerable questions are kept with no answers; their {@code plausible_answers} are not
 * read. Anything not shaped like this is a {@link SquadFormatException} naming the file and the place.
 */
public final class SquadReader {
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Path file;
    private final List<SquadExample> examples = new ArrayList<>();
    private final Map<String, String> placeOfId = new HashMap<>();

    private SquadReader(Path file) {
        this.file = file;
    }

    /** The usable examples of {@code file}, answers aligned. */
    public static SquadDataset read(Path file) {
        return AnswerAligner.align(file, readExamples(file));
    }

    /** Every question of {@code file} in file order, answers as written. */
    public static List<SquadExample> readExamples(Path file) {
        SquadReader reader = new SquadReader(file);
        reader.readData(reader.parse());
        if (reader.examples.isEmpty()) throw reader.error("", "no questions");
        return reader.examples;
    }

    private JsonNode parse() {
        // the tree of the 30 MB train file is a few hundred MB at most, and it keeps the checks below plain
        try (InputStream in = Files.newInputStream(file)) {
            JsonNode root = JSON.readTree(in);
            if (root == null || root.isMissingNode()) throw error("", "the file is empty");
            return root;
        } catch (NoSuchFileException e) {
            throw new SquadFormatException(file + ": no such file", e);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            // Jackson's messages may span lines: the caller prints one
            throw new SquadFormatException(file + ": not valid JSON" + where + ": "
                    + e.getOriginalMessage().replaceAll("\\s+", " ").strip(), e);
        } catch (IOException e) {
            throw new SquadFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private void readData(JsonNode root) {
        if (!root.isObject()) throw error("", "the top level is not an object");
        JsonNode data = array(root, "data", "");
        for (int a = 0; a < data.size(); a++) {
            String place = "data[" + a + "]";
            JsonNode article = object(data.get(a), place);
            String title = string(article, "title", place);
            place += " (\"" + title + "\")";
            JsonNode paragraphs = array(article, "paragraphs", place);
            for (int p = 0; p < paragraphs.size(); p++) {
                String paragraphPlace = place + " paragraphs[" + p + "]";
                JsonNode paragraph = object(paragraphs.get(p), paragraphPlace);
                String context = string(paragraph, "context", paragraphPlace);
                JsonNode qas = array(paragraph, "qas", paragraphPlace);
                for (int q = 0; q < qas.size(); q++) {
                    readQuestion(qas.get(q), paragraphPlace + " qas[" + q + "]", title, context);
                }
            }
        }
    }

    private void readQuestion(JsonNode node, String place, String title, String context) {
        JsonNode qa = object(node, place);
        String id = string(qa, "id", place);
        if (id.isEmpty()) throw error(place, "\"id\" is empty");
        place += " (id " + id + ")";
        String firstPlace = placeOfId.putIfAbsent(id, place);
        if (firstPlace != null) throw error(place, "duplicate id, first seen at " + firstPlace);
        String question = string(qa, "question", place);
        JsonNode answerNodes = array(qa, "answers", place);
        JsonNode impossibleNode = qa.get("is_impossible");
        if (impossibleNode != null && !impossibleNode.isBoolean()) throw error(place, "\"is_impossible\" is not a boolean");
        boolean impossible = impossibleNode != null && impossibleNode.booleanValue();
        if (impossible && !answerNodes.isEmpty()) throw error(place, "\"is_impossible\" is true but \"answers\" is not empty");
        if (!impossible && answerNodes.isEmpty()) throw error(place, "no answers, and not marked \"is_impossible\"");
        List<SquadAnswer> answers = new ArrayList<>(answerNodes.size());
        for (int k = 0; k < answerNodes.size(); k++) {
            String answerPlace = place + " answers[" + k + "]";
            JsonNode answer = object(answerNodes.get(k), answerPlace);
            String text = string(answer, "text", answerPlace);
            if (text.isEmpty()) throw error(answerPlace, "\"text\" is empty");
            JsonNode start = field(answer, "answer_start", answerPlace);
            if (!start.isIntegralNumber() || !start.canConvertToInt() || start.intValue() < 0) {
                throw error(answerPlace, "\"answer_start\" is not a non-negative integer");
            }
            answers.add(new SquadAnswer(text, start.intValue()));
        }
        examples.add(new SquadExample(id, title, question, context, answers, impossible));
    }

    // ---- checked access: each names the place it looks at ------------------------------------

    private JsonNode object(JsonNode node, String place) {
        if (!node.isObject()) throw error(place, "not an object");
        return node;
    }

    private JsonNode field(JsonNode object, String name, String place) {
        JsonNode value = object.get(name);
        if (value == null) throw error(place, "\"" + name + "\" is missing");
        return value;
    }

    private String string(JsonNode object, String name, String place) {
        JsonNode value = field(object, name, place);
        if (!value.isTextual()) throw error(place, "\"" + name + "\" is not a string");
        return value.textValue();
    }

    private JsonNode array(JsonNode object, String name, String place) {
        JsonNode value = field(object, name, place);
        if (!value.isArray()) throw error(place, "\"" + name + "\" is not an array");
        return value;
    }

    private SquadFormatException error(String place, String problem) {
        return new SquadFormatException(file + ": " + (place.isEmpty() ? "" : place + ": ") + problem);
    }
}
