package dev.jbert.core.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jbert.core.io.AtomicFiles;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.core.squad.Evaluator;
import dev.jbert.core.squad.SquadDataset;
import dev.jbert.core.squad.SquadMetric;
import dev.jbert.core.squad.SquadReader;
import dev.jbert.kernels.Backend;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.Truncation;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code jbert evaluate}: a fine-tuned model on a SQuAD dev file, as run_qa evaluates: n-best 20,
 * answers of at most 30 tokens, across all windows of a question. Writes predictions.json (the
 * official format, {@code {id: answer}}) and nbest_predictions.json, and prints EM/F1.
 */
@Command(name = "evaluate",
        mixinStandardHelpOptions = true,
        description = {
            "Evaluate a fine-tuned model on a SQuAD dev file: writes OUTPUT/predictions.json and",
            "OUTPUT/nbest_predictions.json; the last line is {\"exact_match\": .., \"f1\": ..}."})
final class EvaluateCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Mixin
    DeviceOptions deviceOptions;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model directory (a checkpoint works too).")
    Path model;

    @Option(names = "--dev", required = true, paramLabel = "FILE", description = "SQuAD v1.1 dev file.")
    Path devFile;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Where the prediction files go.")
    Path output;

    @Option(names = "--batch-size", defaultValue = "32", description = "Windows per batch (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--max-seq-length", defaultValue = "384", description = "Tokens per window (default: ${DEFAULT-VALUE}).")
    int maxSeqLength;

    @Option(names = "--doc-stride", defaultValue = "128", description = "Context tokens shared by consecutive windows (default: ${DEFAULT-VALUE}).")
    int docStride;

    @Override
    public Integer call() throws Exception {
        if (batchSize < 1) {
            throw new UserError("--batch-size must be at least 1");
        }
        var truncation = new Truncation(maxSeqLength, docStride);
        TrainCommand.prepareOutput(output);
        PrintWriter out = spec.commandLine().getOut();
        SquadDataset dev = SquadReader.read(devFile);
        out.println("dev: " + dev.file() + ": " + dev.stats().summary());
        try (Backend backend = deviceOptions.open(spec.commandLine().getErr(), true)) {
            ModelDirectory.Loaded loaded = ModelDirectory.load(model, backend, batchSize, maxSeqLength, 0);
            loaded.notes().forEach(note -> out.println("model: " + note));
            Evaluator evaluator = new Evaluator(dev.examples(), new BertTokenizer(loaded.vocab()), truncation);
            long start = System.nanoTime();
            Evaluator.Result result = evaluator.evaluate(loaded.model());
            out.printf("%d questions, %d windows in %.1f s; dev loss %.4f%n", result.scores().total(), evaluator.windows(),
                    (System.nanoTime() - start) / 1e9, result.loss());
            writeJson(output.resolve("predictions.json"), result.predictions());
            writeJson(output.resolve("nbest_predictions.json"), nbestJson(result.nbest()));
            out.println("wrote " + output.resolve("predictions.json") + " and nbest_predictions.json");
            out.println(SquadMetric.toJson(result.scores()));
        }
        out.flush();
        return 0;
    }

    private static Map<String, List<Map<String, Object>>> nbestJson(Map<String, List<Evaluator.Candidate>> nbest) {
        var json = new LinkedHashMap<String, List<Map<String, Object>>>();
        nbest.forEach((id, candidates) -> json.put(id, candidates.stream()
                .map(c -> Map.<String, Object>of("text", c.text(), "probability", c.probability(), "score", c.score(),
                        "start", c.start(), "end", c.end()))
                .toList()));
        return json;
    }

    private static void writeJson(Path file, Object value) throws IOException {
        AtomicFiles.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(value) + "\n");
    }
}
