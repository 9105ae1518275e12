package dev.jbert.core.cli;

import dev.jbert.tokenizer.Truncation;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The options of the commands that read one question about one context: answer, attention, trace. */
final class QuestionOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model directory (config.json, model.safetensors, vocab.txt).")
    Path model;

    @Option(names = "--question", required = true, paramLabel = "TEXT")
    String question;

    @Option(names = "--context", required = true, paramLabel = "TEXT")
    String context;

    @Option(names = "--max-seq-length", paramLabel = "N", defaultValue = "384", description = "Tokens per window (default: ${DEFAULT-VALUE}).")
    int maxSeqLength;

    @Option(names = "--doc-stride", paramLabel = "N", defaultValue = "128", description = "Context tokens shared by consecutive windows (default: ${DEFAULT-VALUE}).")
    int docStride;

    /** The windowing; a bad length or stride is a TokenizerException, which Main reports in one line. */
    Truncation truncation() {
        return new Truncation(maxSeqLength, docStride);
    }

    /** Checks a command's optional {@code --window} (counted from 0) against the windows the context makes. */
    static void checkWindow(Integer window, int windows) {
        if (window != null && (window < 0 || window >= windows)) {
            throw new UserError("--window " + window + " is out of range 0.." + (windows - 1)
                    + " (the context makes " + windows + (windows == 1 ? " window)" : " windows)"));
        }
    }
}
