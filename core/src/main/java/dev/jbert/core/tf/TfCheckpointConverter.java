package dev.jbert.core.tf;

import dev.jbert.core.model.BertConfig;
import dev.jbert.core.model.EncoderImport;
import dev.jbert.tokenizer.Vocab;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns Google's original BERT TensorFlow checkpoint into a jbert / Hugging Face model directory.
 *
 * <p>Names: {@code [module/]bert/encoder/layer_3/attention/self/query/kernel} becomes
 * {@code bert.encoder.layer.3.attention.self.query.weight}; {@code gamma}/{@code beta} become
 * {@code weight}/{@code bias}; embedding tables get {@code .weight}. TensorFlow's dense kernels are
 * {@code [in, out]} and are transposed to PyTorch's {@code [out, in]}. The pooler and the
 * pretraining heads ({@code cls/...}) are left out: a QA model does not use them, and the QA head,
 * which the checkpoint lacks, is initialized when the model is loaded.
 *
 * <p>The config comes from {@code --config} (Google's bert_config.json has HF's keys) or from the
 * shapes, with 64-wide attention heads as in every released BERT unless {@code --heads} says
 * otherwise. Shape checks, transposes and writing are {@link EncoderImport}'s.
 */
public final class TfCheckpointConverter {
    private static final Pattern LAYER = Pattern.compile("/layer_(\\d+)/");

    private TfCheckpointConverter() {}

    /**
     * Converts the bundle at {@code prefix} into {@code out}. {@code config}, {@code heads} (used
     * without a config; null means 64-wide heads) and {@code vocabFile} may be null. Progress and
     * notes go to {@code log}.
     */
    public static void convert(Path prefix, Path config, Integer heads, Path vocabFile, Path out, Consumer<String> log) {
        try (TensorBundle bundle = TensorBundle.open(prefix)) {
            Map<String, EncoderImport.Source> sources = new HashMap<>(); // by HF name
            for (TensorBundle.Entry entry : bundle.entries().values()) {
                String name = hfName(entry.name());
                if (name != null) {
                    sources.put(name, new EncoderImport.Source(entry.name(), entry.shape(),
                            entry.name().endsWith("/kernel"), () -> bundle.read(entry.name())));
                }
            }
            BertConfig bertConfig = config != null ? BertConfig.read(config) : EncoderImport.inferConfig(prefix, sources, heads);
            // a vocab.txt next to the checkpoint, or in the SavedModel's assets/
            Path directory = prefix.toAbsolutePath().getParent();
            Vocab vocab = EncoderImport.vocab(prefix, vocabFile, List.of(directory.resolve("vocab.txt"),
                    directory.resolveSibling("assets").resolve("vocab.txt")), bertConfig, log);
            EncoderImport.write(prefix, bertConfig, sources, vocab, out, log);
        }
    }

    /** Extracts the SavedModel variables (and vocab) found in a jar or zip; returns their prefix. */
    public static Path extractArchive(Path archive, Path target) {
        return SavedModelArchive.extract(archive, target);
    }

    /** The HF name of a TF variable, or null for variables a QA model does not use. */
    static String hfName(String tfName) {
        String name = tfName.startsWith("module/") ? tfName.substring("module/".length()) : tfName;
        if (!name.startsWith("bert/embeddings/") && !name.startsWith("bert/encoder/")) {
            return null; // pooler, cls/ pretraining heads, global_step, optimizer slots
        }
        if (name.endsWith("/adam_m") || name.endsWith("/adam_v")) {
            return null;
        }
        Matcher layer = LAYER.matcher(name);
        name = layer.replaceAll("/layer.$1/").replace('/', '.');
        if (name.endsWith("_embeddings")) {
            return name + ".weight";
        }
        if (name.endsWith(".kernel") || name.endsWith(".gamma")) {
            return name.substring(0, name.lastIndexOf('.')) + ".weight";
        }
        if (name.endsWith(".beta")) {
            return name.substring(0, name.lastIndexOf('.')) + ".bias";
        }
        return name;
    }
}
