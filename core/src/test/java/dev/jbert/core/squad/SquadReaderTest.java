package dev.jbert.core.squad;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SquadReaderTest {
    @TempDir
    Path dir;

    /** JSON written with single quotes, for readable tests. */
    static String json(String singleQuoted) {
        return singleQuoted.replace('\'', '"');
    }

    Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content);
    }

    // "Fun 😀 fact: " is 12 code points but 13 UTF-16 units: the emoji is a surrogate pair
    static final String CONTEXT = "Fun 😀 fact: Normandy is in France. Rollo led the Normans.";

    static final String V11 = json("""
            {'version': '1.1', 'data': [
              {'title': 'Normans', 'paragraphs': [
                {'context': '%s', 'qas': [
                  {'id': 'q1', 'question': ' Where is Normandy?', 'answers': [{'text': 'France', 'answer_start': 27}]},
                  {'id': 'q2', 'question': 'Which region?', 'answers': [
                    {'text': 'Normandy', 'answer_start': 12}, {'text': 'Normandy', 'answer_start': 12}]}]}]},
              {'title': 'Rollo', 'paragraphs': [
                {'context': 'Rollo was a Viking.', 'qas': [
                  {'id': 'q3', 'question': 'Who was Rollo?', 'answers': [{'text': 'a Viking', 'answer_start': 10}]}]}]}]}
            """.formatted(CONTEXT));

    @Test
    void readsV11WithCodePointStarts() throws IOException {
        Path file = write("dev.json", V11);
        SquadDataset dataset = SquadReader.read(file);
        assertEquals(file, dataset.file());
        List<SquadExample> examples = dataset.examples();
        assertEquals(List.of("q1", "q2", "q3"), examples.stream().map(SquadExample::id).toList());

        SquadExample q1 = examples.getFirst();
        assertEquals("Normans", q1.title());
        assertEquals(" Where is Normandy?", q1.question(), "kept as written: features strip it");
        assertEquals(CONTEXT, q1.context());
        assertFalse(q1.impossible());
        assertEquals(List.of(new SquadAnswer("France", 27)), q1.answers());
        assertEquals(33, q1.answers().getFirst().end());
        assertSame(q1.context(), examples.get(1).context(), "one string per paragraph");

        // 12 is the code point index of "Normandy"; in UTF-16 it would be 13
        assertEquals(12, CONTEXT.codePointCount(0, CONTEXT.indexOf("Normandy")));
        assertEquals(List.of(new SquadAnswer("Normandy", 12), new SquadAnswer("Normandy", 12)), examples.get(1).answers());
        assertEquals("Rollo", examples.get(2).title());

        assertEquals(new AlignmentStats(3, 4, 0, 0, 0, 0), dataset.stats(), "every start already points at its text");
        assertEquals("3 examples read, 3 kept; answers: 4 exact, 0 shifted by 1-2, 0 re-found elsewhere, 0 dropped",
                dataset.stats().summary());
    }

    @Test
    void readsV20AndKeepsImpossibleQuestions() throws IOException {
        Path file = write("dev-v2.0.json", json("""
                {'version': 'v2.0', 'data': [{'title': 'Normans', 'paragraphs': [{'context': 'The Normans were in France.', 'qas': [
                  {'id': 'a', 'question': 'Where?', 'answers': [{'text': 'France', 'answer_start': 20}], 'is_impossible': false},
                  {'id': 'b', 'question': 'When did Rollo die?', 'answers': [],
                   'plausible_answers': [{'text': 'Normans', 'answer_start': 4}], 'is_impossible': true}]}]}]}
                """));
        SquadDataset dataset = SquadReader.read(file);
        SquadExample answerable = dataset.examples().get(0), impossible = dataset.examples().get(1);
        assertFalse(answerable.impossible());
        assertEquals(List.of(new SquadAnswer("France", 20)), answerable.answers());
        assertTrue(impossible.impossible());
        assertEquals(List.of(), impossible.answers(), "plausible answers are not read");
        assertEquals(new AlignmentStats(2, 1, 0, 0, 0, 0), dataset.stats());
    }

    // ---- bad input: one line naming the file and the place -----------------------------------

    /** A v1.1 file with one article "Normans", one paragraph and one question "q1", whose qa object is {@code qa}. */
    static String withQa(String qa) {
        return json("{'data': [{'title': 'Normans', 'paragraphs': [{'context': 'in France', 'qas': [" + qa + "]}]}]}");
    }

    static final String QA = " data[0] (\"Normans\") paragraphs[0] qas[0]";
    static final String Q1 = QA + " (id q1)";

    static Stream<Arguments> badFiles() {
        return Stream.of(
                Arguments.of("empty file", "", ": the file is empty"),
                Arguments.of("top level not an object", "[]", ": the top level is not an object"),
                Arguments.of("no data", "{}", ": \"data\" is missing"),
                Arguments.of("data not an array", json("{'data': {}}"), ": \"data\" is not an array"),
                Arguments.of("article not an object", json("{'data': [3]}"), ": data[0]: not an object"),
                Arguments.of("no title", json("{'data': [{'paragraphs': []}]}"), ": data[0]: \"title\" is missing"),
                Arguments.of("title not a string", json("{'data': [{'title': 7, 'paragraphs': []}]}"),
                        ": data[0]: \"title\" is not a string"),
                Arguments.of("paragraphs not an array", json("{'data': [{'title': 'Normans', 'paragraphs': 'x'}]}"),
                        ": data[0] (\"Normans\"): \"paragraphs\" is not an array"),
                Arguments.of("paragraph not an object", json("{'data': [{'title': 'Normans', 'paragraphs': [[]]}]}"),
                        ": data[0] (\"Normans\") paragraphs[0]: not an object"),
                Arguments.of("no context", json("{'data': [{'title': 'Normans', 'paragraphs': [{'qas': []}]}]}"),
                        ": data[0] (\"Normans\") paragraphs[0]: \"context\" is missing"),
                Arguments.of("context not a string", json("{'data': [{'title': 'Normans', 'paragraphs': [{'context': null, 'qas': []}]}]}"),
                        ": data[0] (\"Normans\") paragraphs[0]: \"context\" is not a string"),
                Arguments.of("no qas", json("{'data': [{'title': 'Normans', 'paragraphs': [{'context': 'c'}]}]}"),
                        ": data[0] (\"Normans\") paragraphs[0]: \"qas\" is missing"),
                Arguments.of("qa not an object", withQa("'q1'"), ":" + QA + ": not an object"),
                Arguments.of("no id", withQa("{'question': 'Where?', 'answers': []}"), ":" + QA + ": \"id\" is missing"),
                Arguments.of("empty id", withQa("{'id': '', 'question': 'Where?', 'answers': []}"), ":" + QA + ": \"id\" is empty"),
                Arguments.of("no question", withQa("{'id': 'q1', 'answers': []}"), ":" + Q1 + ": \"question\" is missing"),
                Arguments.of("answers not an array", withQa("{'id': 'q1', 'question': 'Where?', 'answers': {}}"),
                        ":" + Q1 + ": \"answers\" is not an array"),
                Arguments.of("no answers", withQa("{'id': 'q1', 'question': 'Where?', 'answers': []}"),
                        ":" + Q1 + ": no answers, and not marked \"is_impossible\""),
                Arguments.of("answer not an object", withQa("{'id': 'q1', 'question': 'Where?', 'answers': ['France']}"),
                        ":" + Q1 + " answers[0]: not an object"),
                Arguments.of("no answer text", withQa("{'id': 'q1', 'question': 'Where?', 'answers': [{'answer_start': 3}]}"),
                        ":" + Q1 + " answers[0]: \"text\" is missing"),
                Arguments.of("empty answer text", withQa("{'id': 'q1', 'question': 'Where?', 'answers': [{'text': '', 'answer_start': 3}]}"),
                        ":" + Q1 + " answers[0]: \"text\" is empty"),
                Arguments.of("no answer_start", withQa("{'id': 'q1', 'question': 'Where?', 'answers': [{'text': 'France'}]}"),
                        ":" + Q1 + " answers[0]: \"answer_start\" is missing"),
                Arguments.of("answer_start a string", withQa("{'id': 'q1', 'question': 'Where?', 'answers': [{'text': 'France', 'answer_start': '3'}]}"),
                        ":" + Q1 + " answers[0]: \"answer_start\" is not a non-negative integer"),
                Arguments.of("answer_start a fraction", withQa("{'id': 'q1', 'question': 'Where?', 'answers': [{'text': 'France', 'answer_start': 3.0}]}"),
                        ":" + Q1 + " answers[0]: \"answer_start\" is not a non-negative integer"),
                Arguments.of("answer_start negative", withQa("{'id': 'q1', 'question': 'Where?', 'answers': [{'text': 'France', 'answer_start': -1}]}"),
                        ":" + Q1 + " answers[0]: \"answer_start\" is not a non-negative integer"),
                Arguments.of("is_impossible not a boolean", withQa("{'id': 'q1', 'question': 'Where?', 'answers': [], 'is_impossible': 'yes'}"),
                        ":" + Q1 + ": \"is_impossible\" is not a boolean"),
                Arguments.of("impossible with answers", withQa("{'id': 'q1', 'question': 'Where?', 'is_impossible': true, 'answers': [{'text': 'France', 'answer_start': 3}]}"),
                        ":" + Q1 + ": \"is_impossible\" is true but \"answers\" is not empty"),
                Arguments.of("duplicate id", withQa("{'id': 'q1', 'question': 'Where?', 'answers': [{'text': 'France', 'answer_start': 3}]},"
                                + "{'id': 'q1', 'question': 'Where else?', 'answers': [{'text': 'France', 'answer_start': 3}]}"),
                        ": data[0] (\"Normans\") paragraphs[0] qas[1] (id q1): duplicate id, first seen at" + Q1),
                Arguments.of("no questions", json("{'data': [{'title': 'Normans', 'paragraphs': [{'context': 'c', 'qas': []}]}]}"),
                        ": no questions"),
                Arguments.of("no articles", json("{'data': []}"), ": no questions"),
                Arguments.of("no usable questions",
                        withQa("{'id': 'q1', 'question': 'Where?', 'answers': [{'text': 'Spain', 'answer_start': 3}]}"),
                        ": no usable questions (1 examples read, 0 kept; answers: 0 exact, 0 shifted by 1-2, "
                                + "0 re-found elsewhere, 1 dropped)"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badFiles")
    void badFilesFailInOneLineNamingFileAndPlace(String name, String content, String expected) throws IOException {
        Path file = write("dev.json", content);
        assertOneLine(file + expected, assertThrows(SquadFormatException.class, () -> SquadReader.read(file)));
    }

    @Test
    void malformedJsonGivesLineAndColumn() throws IOException {
        Path file = write("dev.json", "{\"data\": [\n  {\"title\": \"Normans\",, }\n]}");
        String message = assertThrows(SquadFormatException.class, () -> SquadReader.read(file)).getMessage();
        assertTrue(message.startsWith(file + ": not valid JSON at line 2, column 23: Unexpected character"), message);
        assertOneLine(message, null);
    }

    @Test
    void truncatedJsonIsMalformed() throws IOException {
        Path file = write("dev.json", V11.substring(0, 100));
        String message = assertThrows(SquadFormatException.class, () -> SquadReader.read(file)).getMessage();
        assertTrue(message.startsWith(file + ": not valid JSON at line "), message);
        assertOneLine(message, null);
    }

    @Test
    void trailingContentIsMalformed() throws IOException {
        Path file = write("dev.json", V11 + "{}");
        String message = assertThrows(SquadFormatException.class, () -> SquadReader.read(file)).getMessage();
        assertTrue(message.startsWith(file + ": not valid JSON at line "), message);
    }

    @Test
    void missingFile() {
        Path file = dir.resolve("absent.json");
        assertOneLine(file + ": no such file", assertThrows(SquadFormatException.class, () -> SquadReader.read(file)));
    }

    private static void assertOneLine(String expected, SquadFormatException e) {
        String message = e == null ? expected : e.getMessage();
        if (e != null) assertEquals(expected, message);
        assertFalse(message.contains("\n") || message.contains("\r"), () -> "more than one line: " + message);
    }
}
