package dev.jbert.core.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.jbert.core.model.Batch;
import dev.jbert.core.model.BertConfig;
import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.core.qa.Answerer;
import dev.jbert.core.qa.SpanSearch;
import dev.jbert.core.squad.SquadAnswer;
import dev.jbert.core.squad.SquadExample;
import dev.jbert.core.squad.TrainingFeature;
import dev.jbert.core.squad.TrainingFeatures;
import dev.jbert.core.study.ActivationTrace;
import dev.jbert.core.study.TraceJson;
import dev.jbert.core.study.TraceTable;
import dev.jbert.core.study.TracedTensor;
import dev.jbert.kernels.Backend;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.CodePoints;
import dev.jbert.tokenizer.Truncation;
import dev.jbert.tokenizer.Vocab;
import dev.jbert.tokenizer.Window;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code jbert trace}: every tensor of one forward (and backward) pass, with its shape and statistics. */
@Command(name = "trace",
        mixinStandardHelpOptions = true,
        description = {
            "Print every tensor of one forward pass (evaluation mode: no dropout) in the",
            "order the model computes it: its name in the code (BertQa, Activations), its",
            "shape, and its mean, std, min, max and fraction of zeros. With --backward, the",
            "same for the gradients of the loss, in the order the backward computes them.",
            "Axes: B batch, T tokens, H heads, D head size, C hidden, I intermediate.",
            "A long context is cut into windows as `answer` does; one is traced: --window,",
            "else the first that holds the --answer, else the first."})
final class TraceCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeviceOptions deviceOptions;

    @Mixin
    QuestionOptions input;

    @Option(names = "--json", description = "Print one JSON document instead of a table.")
    boolean json;

    @Option(names = "--backward", description = "Also run the backward pass of the loss for the answer (--answer, or --answer-start and --answer-end).")
    boolean backward;

    @Option(names = "--answer", paramLabel = "TEXT", description = {
        "The gold answer: its first occurrence in the context (exact, case-sensitive),",
        "labelled as training labels it (the tokens that cover it)."})
    String answer;

    @Option(names = "--answer-start", paramLabel = "I", description = "The gold answer's first token: its position in the window (the table's token list).")
    Integer answerStart;

    @Option(names = "--answer-end", paramLabel = "J", description = "The gold answer's last token, a position in the window.")
    Integer answerEnd;

    @Option(names = "--window", paramLabel = "K", description = "Which window of a long context to trace, from 0 (default: see above).")
    Integer window;

    /** The window traced and, when an answer is given, its first and last token there (else null). */
    private record Target(int window, int[] answer) {}

    /** What one run saw; {@code backward} is null without --backward, {@code loss} NaN without an answer. */
    private record Trace(Window window, int windows, Target target, SpanSearch.Span prediction, float loss,
                         List<TracedTensor> forward, List<TracedTensor> backward) {}

    @Override
    public Integer call() throws IOException {
        Truncation truncation = input.truncation(); // a TokenizerException is a one-line error
        checkAnswerOptions();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        BertConfig config = BertConfig.read(input.model.resolve(ModelDirectory.CONFIG));
        Vocab vocab = ModelDirectory.vocab(input.model, config);
        List<Window> windows = Answerer.windows(new BertTokenizer(vocab), input.question, input.context, truncation);
        Target target = target(windows);
        Window traced = windows.get(target.window());
        try (Backend backend = deviceOptions.open(err, false)) {
            BertQa bert = WindowModel.load(input.model, backend, List.of(traced), err);
            Trace trace = run(bert, traced, windows.size(), target, backward);
            if (json) {
                writeJson(out, config, vocab, trace);
            } else {
                writeText(out, config, vocab, trace);
            }
        }
        out.flush();
        return 0;
    }

    private void checkAnswerOptions() {
        if ((answerStart == null) != (answerEnd == null)) {
            throw new UserError("--answer-start and --answer-end go together");
        }
        if (answer != null && answerStart != null) {
            throw new UserError("give --answer or --answer-start and --answer-end, not both");
        }
        if (answer != null && answer.isBlank()) {
            throw new UserError("--answer is empty");
        }
        if (backward && answer == null && answerStart == null) {
            throw new UserError("--backward needs the answer to take the loss of: --answer TEXT, or --answer-start I --answer-end J");
        }
    }

    private Target target(List<Window> windows) {
        QuestionOptions.checkWindow(window, windows.size());
        if (answer != null) {
            return findAnswer(windows);
        }
        int w = window == null ? 0 : window;
        if (answerStart == null) {
            return new Target(w, null);
        }
        int length = windows.get(w).length();
        for (int position : new int[] {answerStart, answerEnd}) {
            if (position < 0 || position >= length) {
                throw new UserError("answer position " + position + " is outside window " + w + " (" + length
                        + " tokens, 0 .. " + (length - 1) + ")");
            }
        }
        return new Target(w, new int[] {answerStart, answerEnd});
    }

    /** The answer's first occurrence, labelled in each window as training labels it; the first window that holds it. */
    private Target findAnswer(List<Window> windows) {
        int at = input.context.indexOf(answer);
        if (at < 0) {
            throw new UserError("--answer \"" + answer + "\" is not in the context");
        }
        SquadAnswer gold = new SquadAnswer(answer, input.context.codePointCount(0, at));
        SquadExample example = new SquadExample("trace", "", input.question, input.context, List.of(gold), false);
        for (int w = 0; w < windows.size(); w++) {
            TrainingFeature label = TrainingFeatures.label(windows.get(w), example);
            boolean holds = label.startPosition() != 0; // run_qa labels a window without the answer [CLS], 0
            if (holds && (window == null || window == w)) {
                return new Target(w, new int[] {label.startPosition(), label.endPosition()});
            }
        }
        throw new UserError("--answer \"" + answer + "\" is not wholly inside "
                + (window == null ? "any window" : "window " + window));
    }

    private static Trace run(BertQa model, Window window, int windows, Target target, boolean backward) {
        Batch plain = Answerer.batchOf(List.of(window));
        Batch batch = target.answer() == null ? plain : new Batch(1, plain.tokens(), plain.inputIds(),
                plain.tokenTypeIds(), plain.attentionMask(), new int[] {target.answer()[0]}, new int[] {target.answer()[1]});
        ActivationTrace forward = new ActivationTrace(model.backend());
        model.observe(forward);
        float loss = model.forward(batch, null);
        List<SpanSearch.Span> spans = SpanSearch.best(List.of(window), new float[][] {model.startLogits()},
                new float[][] {model.endLogits()}, SpanSearch.N_BEST, SpanSearch.MAX_ANSWER_LENGTH, 1);
        List<TracedTensor> gradients = null;
        if (backward) {
            ActivationTrace backwardTrace = new ActivationTrace(model.backend());
            model.observe(backwardTrace);
            model.zeroGradients();
            model.backward(1);
            gradients = backwardTrace.tensors();
        }
        model.observe(null);
        return new Trace(window, windows, target, spans.isEmpty() ? null : spans.getFirst(), loss,
                forward.tensors(), gradients);
    }

    // ---- output ---------------------------------------------------------------------------------

    private void writeText(PrintWriter out, BertConfig config, Vocab vocab, Trace trace) {
        Window w = trace.window();
        out.printf("model     %s: %d layers, hidden %d, %d heads of %d, intermediate %d%n", input.model, config.layers(),
                config.hiddenSize(), config.heads(), config.headDim(), config.intermediateSize());
        out.printf("window    %d %s, %d tokens: B 1, T %d%n", trace.target().window(),
                trace.windows() == 1 ? "(the only one)" : "(of windows 0 .. " + (trace.windows() - 1) + ")", w.length(), w.length());
        wrap("tokens    ", numberedTokens(vocab, w), 100).forEach(out::println);
        SpanSearch.Span span = trace.prediction();
        out.println(span == null ? "predicted (no valid span in this window)"
                : String.format(Locale.ROOT, "predicted \"%s\": tokens %d .. %d, score %s (start logit + end logit)",
                        CodePoints.substring(input.context, span.start(), span.end()), span.startToken(), span.endToken(),
                        TraceTable.number(span.score())));
        int[] gold = trace.target().answer();
        if (gold != null) {
            out.printf("gold      tokens %d .. %d (%s), loss %s%n", gold[0], gold[1], tokens(vocab, w, gold[0], gold[1]),
                    TraceTable.number(trace.loss()));
        }
        out.println();
        out.println("forward, evaluation mode (no dropout). \"buffer (what)\": a buffer that holds several things in turn,");
        out.println("holding the one named; probs (scores) are Q Kᵀ before the 1/√D scale, which the softmax applies");
        TraceTable.write(out, trace.forward());
        if (trace.backward() != null) {
            out.println();
            out.println("backward of the loss: dX holds the loss's gradient with respect to X, \"dX (Y)\" the one with respect");
            out.println("to Y; a row named after a parameter is its gradient, shown once its layer's backward is done");
            TraceTable.write(out, trace.backward());
        }
    }

    private void writeJson(PrintWriter out, BertConfig config, Vocab vocab, Trace trace) throws IOException {
        JsonGenerator g = new JsonFactory().createGenerator(out);
        g.writeStartObject();
        g.writeStringField("model", input.model.toString());
        g.writeObjectFieldStart("config");
        g.writeNumberField("layers", config.layers());
        g.writeNumberField("hidden", config.hiddenSize());
        g.writeNumberField("heads", config.heads());
        g.writeNumberField("head_size", config.headDim());
        g.writeNumberField("intermediate", config.intermediateSize());
        g.writeEndObject();
        Window w = trace.window();
        g.writeObjectFieldStart("window");
        g.writeNumberField("index", trace.target().window());
        g.writeNumberField("count", trace.windows());
        g.writeFieldName("input_ids");
        g.writeArray(w.inputIds(), 0, w.length());
        g.writeArrayFieldStart("tokens");
        for (int id : w.inputIds()) {
            g.writeString(vocab.token(id));
        }
        g.writeEndArray();
        g.writeEndObject();
        SpanSearch.Span span = trace.prediction();
        if (span == null) {
            g.writeNullField("prediction");
        } else {
            g.writeObjectFieldStart("prediction");
            g.writeStringField("text", CodePoints.substring(input.context, span.start(), span.end()));
            g.writeNumberField("start_token", span.startToken());
            g.writeNumberField("end_token", span.endToken());
            g.writeNumberField("score", span.score());
            g.writeEndObject();
        }
        int[] gold = trace.target().answer();
        if (gold != null) {
            g.writeObjectFieldStart("gold");
            g.writeNumberField("start_token", gold[0]);
            g.writeNumberField("end_token", gold[1]);
            g.writeEndObject();
            g.writeNumberField("loss", trace.loss());
        }
        TraceJson.writeTensors(g, "forward", trace.forward());
        if (trace.backward() != null) {
            TraceJson.writeTensors(g, "backward", trace.backward());
        }
        g.writeEndObject();
        g.flush();
        out.println();
    }

    /** "0 [CLS]", "1 who", ...: every token with its position, for --answer-start and --answer-end. */
    private static List<String> numberedTokens(Vocab vocab, Window w) {
        List<String> tokens = new ArrayList<>();
        for (int p = 0; p < w.length(); p++) {
            tokens.add(p + " " + vocab.token(w.inputIds()[p]));
        }
        return tokens;
    }

    private static String tokens(Vocab vocab, Window w, int first, int last) {
        StringBuilder text = new StringBuilder();
        for (int p = first; p <= last; p++) {
            text.append(p == first ? "" : " ").append(vocab.token(w.inputIds()[p]));
        }
        return text.toString();
    }

    /** {@code items} two spaces apart in lines of at most about {@code width}, the first after {@code label}, the rest indented. */
    private static List<String> wrap(String label, List<String> items, int width) {
        List<String> lines = new ArrayList<>();
        StringBuilder line = new StringBuilder(label);
        for (String item : items) {
            if (line.length() > label.length() && line.length() + 2 + item.length() > width) {
                lines.add(line.toString());
                line = new StringBuilder(" ".repeat(label.length()));
            } else if (line.length() > label.length()) {
                line.append("  ");
            }
            line.append(item);
        }
        lines.add(line.toString());
        return lines;
    }
}
