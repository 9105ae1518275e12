package dev.jbert.core.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jbert.core.squad.SquadAnswer;
import dev.jbert.core.squad.SquadExample;
import dev.jbert.core.squad.SquadMetric;
import dev.jbert.core.squad.SquadReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code jbert score DEV.json PREDICTIONS.json}: the official SQuAD v1.1 evaluation. Every question
 * of the dev file counts, with its answers as written (no alignment: the script never looks at
 * {@code answer_start}); a question without a prediction scores 0.
 */
@Command(name = "score",
        mixinStandardHelpOptions = true,
        description = {"Score predictions ({id: answer}) against a SQuAD v1.1 dev file, as the official script does.",
            "The last line is {\"exact_match\": .., \"f1\": ..}."})
final class ScoreCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DEV.json")
    Path devFile;

    @Parameters(index = "1", paramLabel = "PREDICTIONS.json")
    Path predictionsFile;

    @Override
    public Integer call() {
        Map<String, List<String>> golds = new LinkedHashMap<>();
        for (SquadExample example : SquadReader.readExamples(devFile)) {
            golds.put(example.id(), example.answers().stream().map(SquadAnswer::text).toList());
        }
        Map<String, String> predictions = readPredictions(predictionsFile);
        SquadMetric.Scores scores = SquadMetric.score(golds, predictions);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (scores.answered() < scores.total()) {
            err.printf("jbert: %d of %d questions have no prediction and score 0%n", scores.total() - scores.answered(), scores.total());
        }
        out.println(SquadMetric.toJson(scores));
        out.flush();
        return 0;
    }

    /** {@code {id: answer text}}; anything else is a one-line error naming the file and the entry. */
    static Map<String, String> readPredictions(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new UserError(file + ": no such file");
        } catch (IOException e) {
            throw new UserError(file + ": not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        if (root == null || !root.isObject()) {
            throw new UserError(file + ": expected an object {question id: answer text}");
        }
        Map<String, String> predictions = new LinkedHashMap<>();
        for (var entries = root.fields(); entries.hasNext(); ) {
            var entry = entries.next();
            if (!entry.getValue().isTextual()) {
                throw new UserError(file + ": the prediction for " + entry.getKey() + " is not a string");
            }
            predictions.put(entry.getKey(), entry.getValue().asText());
        }
        return predictions;
    }
}
