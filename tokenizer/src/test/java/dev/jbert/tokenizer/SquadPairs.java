package dev.jbert.tokenizer;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The (question, context) pairs of a SQuAD file, for tests and benchmarks that need real text. */
public record SquadPairs(List<String> questions, List<String> contexts) {

    /** The pairs of {@code ../shared/data/squad/NAME}; the test is skipped, visibly, when it is absent. */
    static SquadPairs load(String name) {
        Path file = Path.of(System.getProperty("jbert.shared.dir", "../../shared"), "data", "squad", name);
        if (!Files.isReadable(file)) {
            System.out.println("SKIPPED: " + file + " is absent, so SQuAD parity is not checked here (CI has it)");
            assumeTrue(false, file + " is absent");
        }
        return read(file);
    }

    /** Every pair of a SQuAD JSON file, in file order. */
    public static SquadPairs read(Path file) {
        List<String> questions = new ArrayList<>(), contexts = new ArrayList<>();
        try {
            for (JsonNode article : new ObjectMapper().readTree(file.toFile()).get("data")) {
                for (JsonNode paragraph : article.get("paragraphs")) {
                    String context = paragraph.get("context").textValue();
                    for (JsonNode qa : paragraph.get("qas")) {
                        questions.add(qa.get("question").textValue());
                        contexts.add(context);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new SquadPairs(questions, contexts);
    }

    int size() {
        return questions.size();
    }
}
