package dev.jbert.core.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.jbert.core.model.BertConfig;
import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.core.qa.Answerer;
import dev.jbert.core.qa.Explanation;
import dev.jbert.core.qa.ExplanationPlot;
import dev.jbert.core.qa.SpanSearch;
import dev.jbert.kernels.Backend;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.Truncation;
import dev.jbert.tokenizer.Window;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code jbert answer}: the best answer span for a question about a context. */
@Command(name = "answer",
        mixinStandardHelpOptions = true,
        description = {
            "Answer a question about a context with a fine-tuned model.",
            "The answer is the best span of the context, found as Hugging Face's run_qa does (20 best starts",
            "x 20 best ends, in the context, at most 30 tokens). A long context is cut into overlapping windows.",
            "--explain shows why: the top spans with their probabilities, and where the model thinks the answer",
            "starts and ends (a bar per context token); --plot draws the latter."})
final class AnswerCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    DeviceOptions deviceOptions;

    @Mixin
    QuestionOptions input;

    @Option(names = "--json", description = {
        "Print JSON: answer, score, start and end (code points of the context), and for each window",
        "its input_ids, start_logits and end_logits."})
    boolean json;

    @Option(names = "--explain", description = {
        "After the answer: the top spans with their probabilities (run_qa's: a softmax of start + end logit",
        "over the 20 best spans), and the start and end probabilities (a softmax over the context tokens)",
        "of the best window's tokens as bars. With --json: \"spans\", and per window \"tokens\",",
        "\"start_probabilities\" and \"end_probabilities\" (0 outside the context)."})
    boolean explain;

    @Option(names = "--top", paramLabel = "K", defaultValue = "5", description = "Spans --explain lists, at most 20 (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "Draw the start and end probabilities per context token, the best span shaded.")
    Path plot;

    @Override
    public Integer call() throws IOException {
        Truncation truncation = input.truncation(); // a TokenizerException is a one-line error
        if (top < 1) {
            throw new UserError("--top must be at least 1, got " + top);
        }
        if (plot != null) {
            checkPlotPath(plot);
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        BertConfig config = BertConfig.read(input.model.resolve(ModelDirectory.CONFIG));
        BertTokenizer tokenizer = new BertTokenizer(ModelDirectory.vocab(input.model, config));
        List<Window> windows = Answerer.windows(tokenizer, input.question, input.context, truncation);
        try (Backend backend = deviceOptions.open(err, false)) {
            BertQa bert = WindowModel.load(input.model, backend, windows, err);
            // explaining needs all n-best candidates: their probabilities are a softmax over them
            boolean explaining = explain || plot != null;
            Answerer.Answer answer = new Answerer(bert).answer(windows, input.context, explaining ? SpanSearch.N_BEST : 1);
            Explanation explanation = explaining ? Explanation.of(answer, input.context, tokenizer.vocab(), top) : null;
            if (plot != null) {
                writePlot(explanation);
            }
            if (json) {
                writeJson(answer, explain ? explanation : null, out);
            } else {
                out.println(answer.best() == null ? "(no answer span found)" : answer.text());
                if (explain) {
                    out.println();
                    ExplanationText.print(explanation, out);
                }
            }
        }
        out.flush();
        return 0;
    }

    /** Fails early, before the model runs, where the picture could not be written. */
    private static void checkPlotPath(Path png) {
        if (Files.isDirectory(png)) {
            throw new UserError(png + ": is a directory; --plot takes a file name, e.g. answer.png");
        }
        Path directory = png.toAbsolutePath().getParent();
        TrainCommand.prepareOutput(directory);
    }

    private void writePlot(Explanation explanation) {
        try {
            ExplanationPlot.write(explanation, input.question, plot);
        } catch (UncheckedIOException e) {
            throw new UserError(plot + ": cannot write the plot (" + e.getCause().getMessage() + ")");
        } catch (LinkageError e) {
            throw new UserError("--plot: this Java runtime has no java.desktop module to draw with");
        } catch (RuntimeException e) {
            throw new UserError("--plot: cannot draw (" + e.getMessage() + ")"); // e.g. a machine without fonts
        }
    }

    /** The answer, the windows' logits, and with {@code explanation} the top spans and every token's probabilities. */
    private static void writeJson(Answerer.Answer answer, Explanation explanation, PrintWriter out) throws IOException {
        JsonGenerator json = new JsonFactory().createGenerator(out);
        SpanSearch.Span best = answer.best();
        json.writeStartObject();
        json.writeStringField("answer", answer.text());
        if (best != null) {
            json.writeNumberField("score", best.score());
            json.writeNumberField("start", best.start());
            json.writeNumberField("end", best.end());
            json.writeNumberField("window", best.window());
        } else {
            json.writeNullField("score");
            json.writeNullField("start");
            json.writeNullField("end");
            json.writeNullField("window");
        }
        json.writeArrayFieldStart("windows");
        for (int w = 0; w < answer.windows().size(); w++) {
            json.writeStartObject();
            int[] ids = answer.windows().get(w).inputIds();
            json.writeFieldName("input_ids");
            json.writeArray(ids, 0, ids.length);
            writeFloats(json, "start_logits", answer.startLogits()[w]);
            writeFloats(json, "end_logits", answer.endLogits()[w]);
            if (explanation != null) {
                json.writeArrayFieldStart("tokens");
                for (String token : explanation.tokens()[w]) {
                    json.writeString(token);
                }
                json.writeEndArray();
                json.writeFieldName("start_probabilities");
                json.writeArray(explanation.startProbabilities()[w], 0, ids.length);
                json.writeFieldName("end_probabilities");
                json.writeArray(explanation.endProbabilities()[w], 0, ids.length);
            }
            json.writeEndObject();
        }
        json.writeEndArray();
        if (explanation != null) {
            json.writeNumberField("candidates", explanation.candidates());
            json.writeArrayFieldStart("spans");
            for (Explanation.Candidate candidate : explanation.spans()) {
                SpanSearch.Span span = candidate.span();
                json.writeStartObject();
                json.writeStringField("text", candidate.text());
                json.writeNumberField("probability", candidate.probability());
                json.writeNumberField("score", span.score());
                json.writeNumberField("start", span.start());
                json.writeNumberField("end", span.end());
                json.writeNumberField("window", span.window());
                json.writeNumberField("start_token", span.startToken());
                json.writeNumberField("end_token", span.endToken());
                json.writeEndObject();
            }
            json.writeEndArray();
        }
        json.writeEndObject();
        json.flush();
        out.println();
    }

    private static void writeFloats(JsonGenerator json, String name, float[] values) throws IOException {
        json.writeArrayFieldStart(name);
        for (float value : values) {
            json.writeNumber(value);
        }
        json.writeEndArray();
    }
}
