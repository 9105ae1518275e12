package dev.jbert.core.cli;

import dev.jbert.core.model.BertConfig;
import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.core.qa.Answerer;
import dev.jbert.core.study.AttentionHeatmap;
import dev.jbert.core.study.AttentionMaps;
import dev.jbert.core.study.AttentionPage;
import dev.jbert.kernels.Backend;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.Truncation;
import dev.jbert.tokenizer.Window;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code jbert attention}: where each token of a question and context attends, as a PNG or an HTML page. */
@Command(name = "attention",
        mixinStandardHelpOptions = true,
        description = {
            "Draw the attention probabilities of one evaluation forward pass over a question and context.",
            "FILE.png: a heatmap of one head (--head), or of every head of the layer side by side.",
            "FILE.html: one self-contained page to explore every layer and head (hover a token to see where it attends); it opens offline in any browser.",
            "A long context is cut into windows as `jbert answer` cuts it; the picture is of the window that holds the model's best answer, or of --window."})
final class AttentionCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    DeviceOptions deviceOptions;

    @Mixin
    QuestionOptions input;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Output: FILE.png or FILE.html (replaced atomically).")
    Path out;

    @Option(names = "--layer", paramLabel = "L", defaultValue = "0",
            description = "Layer, from 0 (default: ${DEFAULT-VALUE}); the page opens on it.")
    int layer;

    @Option(names = "--head", paramLabel = "H",
            description = "Head, from 0; without it, all heads of the layer (the page opens on it).")
    Integer head;

    @Option(names = "--window", paramLabel = "W",
            description = "Window to draw, counted from 0 as in `answer --json` and `trace` (default: the one holding the best answer).")
    Integer window;

    /** The window to draw (an index in the list) and why that one, for the user. */
    private record Choice(int index, String why) {}

    @Override
    public Integer call() {
        Path fileName = out.getFileName();
        String name = fileName == null ? "" : fileName.toString().toLowerCase(Locale.ROOT);
        boolean png = name.endsWith(".png");
        if (!png && !name.endsWith(".html")) {
            throw new UserError("--out " + out + ": unknown kind of file (give a .png or a .html name)");
        }
        Truncation truncation = input.truncation(); // a TokenizerException is a one-line error
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        BertConfig config = BertConfig.read(input.model.resolve(ModelDirectory.CONFIG));
        checkRange("--layer", layer, 0, config.layers() - 1, "the model has " + config.layers() + " layers");
        if (head != null) {
            checkRange("--head", head, 0, config.heads() - 1, "the model has " + config.heads() + " heads per layer");
        }
        BertTokenizer tokenizer = new BertTokenizer(ModelDirectory.vocab(input.model, config));
        List<Window> windows = Answerer.windows(tokenizer, input.question, input.context, truncation);
        QuestionOptions.checkWindow(window, windows.size());
        AttentionMaps maps;
        try (Backend backend = deviceOptions.open(err, false)) {
            BertQa bert = WindowModel.load(input.model, backend, windows, err);
            Choice choice = choose(bert, windows);
            Window drawn = windows.get(choice.index());
            stdout.println("window " + choice.index() + " of 0.." + (windows.size() - 1) + " (" + drawn.length()
                    + " tokens; context tokens " + contextRange(windows, drawn) + "), " + choice.why());
            // one eval forward over this window alone
            String source = modelName() + "  ·  window " + choice.index() + " of 0.." + (windows.size() - 1);
            maps = AttentionMaps.compute(bert, Answerer.batchOf(List.of(drawn)), 0, drawn, tokenizer.vocab(), source);
        }
        try {
            if (png) {
                AttentionHeatmap.write(maps, layer, head, out);
            } else {
                AttentionPage.write(maps, layer, head, Math.min(1, maps.length() - 1), out);
            }
        } catch (UncheckedIOException e) {
            throw new UserError(e.getMessage()); // "cannot write FILE: why"
        }
        stdout.println("wrote " + out);
        stdout.flush();
        return 0;
    }

    /** --window, else the window of the best answer span (as `jbert answer` finds it), else the first. */
    private Choice choose(BertQa model, List<Window> windows) {
        if (window != null) {
            return new Choice(window, "as asked");
        }
        if (windows.size() == 1) {
            return new Choice(0, "the only one");
        }
        Answerer.Answer answer = new Answerer(model).answer(windows, input.context, 1);
        return answer.best() == null ? new Choice(0, "the first: no answer span found")
                : new Choice(answer.best().window(), "the one holding the best answer, \"" + answer.text() + "\"");
    }

    private static void checkRange(String option, int value, int first, int last, String what) {
        if (value < first || value > last) {
            throw new UserError(option + " " + value + " is out of range " + first + ".." + last + " (" + what + ")");
        }
    }

    /** The window's context tokens among all the context's, e.g. {@code [128, 433) of 600}. */
    private static String contextRange(List<Window> windows, Window window) {
        Window last = windows.getLast();
        int total = last.contextTokenOffset() + last.contextEnd() - last.contextStart();
        int first = window.contextTokenOffset();
        return "[" + first + ", " + (first + window.contextEnd() - window.contextStart()) + ") of " + total;
    }

    private String modelName() {
        Path name = input.model.toAbsolutePath().normalize().getFileName();
        return name == null ? input.model.toString() : name.toString();
    }
}
