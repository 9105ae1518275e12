package dev.jbert.core.tf;

import dev.jbert.core.io.ModelFileException;
import dev.jbert.core.io.SafeTensorsWriter;
import dev.jbert.core.model.BertConfig;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.core.model.ParameterLayout;
import dev.jbert.tokenizer.Vocab;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
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
 * shapes, with 64-wide attention heads, as in every released BERT.
 */
public final class TfCheckpointConverter {
    private static final Pattern LAYER = Pattern.compile("/layer_(\\d+)/");
    private static final int HEAD_WIDTH = 64;

    private TfCheckpointConverter() {}

    /**
     * Converts the bundle at {@code prefix} into {@code out}. {@code config} and {@code vocabFile}
     * may be null. Progress and notes go to {@code log}.
     */
    public static void convert(Path prefix, Path config, Path vocabFile, Path out, Consumer<String> log) {
        try (TensorBundle bundle = TensorBundle.open(prefix)) {
            Map<String, String> tfNames = new HashMap<>(); // HF name -> TF name
            for (String tfName : bundle.entries().keySet()) {
                String name = hfName(tfName);
                if (name != null) {
                    tfNames.put(name, tfName);
                }
            }
            BertConfig bertConfig = config != null ? BertConfig.read(config) : inferConfig(prefix, bundle, tfNames);
            ParameterLayout layout = new ParameterLayout(bertConfig);
            List<SafeTensorsWriter.Tensor> tensors = new ArrayList<>();
            for (ParameterLayout.Tensor tensor : layout.tensors()) {
                if (tensor.name().startsWith("qa_outputs.")) {
                    continue;
                }
                String tfName = tfNames.get(tensor.name());
                if (tfName == null) {
                    throw new ModelFileException(prefix + ": the checkpoint has no variable for " + tensor.name());
                }
                tensors.add(convertTensor(prefix, bundle.entries().get(tfName), bundle.read(tfName), tensor));
            }
            Vocab vocab = vocab(prefix, vocabFile, bertConfig, log);
            ModelDirectory.write(out, bertConfig, tensors, vocab);
            log.accept("converted " + tensors.size() + " tensors (" + bertConfig.layers() + " layers, hidden "
                    + bertConfig.hiddenSize() + "); the QA head is initialized when the model is loaded");
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

    private static SafeTensorsWriter.Tensor convertTensor(Path prefix, TensorBundle.Entry entry, float[] values,
                                                          ParameterLayout.Tensor tensor) {
        int[] shape = tensor.shape();
        boolean kernel = entry.name().endsWith("/kernel");
        long[] expected = kernel ? new long[] {shape[1], shape[0]} : Arrays.stream(shape).asLongStream().toArray();
        if (!Arrays.equals(entry.shape(), expected)) {
            throw new ModelFileException(prefix + ": variable " + entry.name() + " has shape "
                    + Arrays.toString(entry.shape()) + ", expected " + Arrays.toString(expected));
        }
        if (kernel) {
            // TF dense kernels are [in, out]; PyTorch's Linear weights are [out, in]
            int out = shape[0];
            int in = shape[1];
            float[] transposed = new float[values.length];
            for (int i = 0; i < in; i++) {
                for (int o = 0; o < out; o++) {
                    transposed[o * in + i] = values[i * out + o];
                }
            }
            values = transposed;
        }
        return new SafeTensorsWriter.Tensor(tensor.name(), Arrays.stream(shape).asLongStream().toArray(), values);
    }

    private static BertConfig inferConfig(Path prefix, TensorBundle bundle, Map<String, String> tfNames) {
        long[] word = shape(prefix, bundle, tfNames, "bert.embeddings.word_embeddings.weight");
        long[] position = shape(prefix, bundle, tfNames, "bert.embeddings.position_embeddings.weight");
        long[] types = shape(prefix, bundle, tfNames, "bert.embeddings.token_type_embeddings.weight");
        long[] intermediate = shape(prefix, bundle, tfNames, "bert.encoder.layer.0.intermediate.dense.weight");
        int layers = 0;
        while (tfNames.containsKey("bert.encoder.layer." + layers + ".output.dense.weight")) {
            layers++;
        }
        int hidden = (int) word[1];
        if (hidden % HEAD_WIDTH != 0) {
            throw new ModelFileException(prefix + ": hidden size " + hidden + " is not a multiple of 64; pass --config bert_config.json");
        }
        BertConfig base = BertConfig.bertBase();
        return new BertConfig((int) word[0], hidden, layers, hidden / HEAD_WIDTH, (int) intermediate[1],
                (int) position[0], (int) types[0], base.hiddenDropout(), base.attentionDropout(),
                base.layerNormEps(), base.initializerRange());
    }

    private static long[] shape(Path prefix, TensorBundle bundle, Map<String, String> tfNames, String name) {
        String tfName = tfNames.get(name);
        if (tfName == null) {
            throw new ModelFileException(prefix + ": the checkpoint has no variable for " + name);
        }
        return bundle.entries().get(tfName).shape();
    }

    /**
     * The vocab: {@code --vocab}, else a vocab.txt next to the checkpoint or in the SavedModel's
     * assets/, else bert-base-uncased's when the sizes match.
     */
    private static Vocab vocab(Path prefix, Path vocabFile, BertConfig config, Consumer<String> log) {
        Path directory = prefix.toAbsolutePath().getParent();
        List<Path> candidates = new ArrayList<>();
        if (vocabFile != null) {
            candidates.add(vocabFile);
        } else {
            candidates.add(directory.resolve("vocab.txt"));
            candidates.add(directory.resolveSibling("assets").resolve("vocab.txt"));
        }
        for (Path candidate : candidates) {
            if (vocabFile != null || Files.exists(candidate)) {
                Vocab vocab = Vocab.load(candidate);
                log.accept("vocab: " + candidate + " (" + vocab.size() + " tokens)");
                return vocab;
            }
        }
        Vocab bundled = Vocab.bertBaseUncased();
        if (bundled.size() != config.vocabSize()) {
            throw new ModelFileException(prefix + ": no vocab.txt found next to the checkpoint; pass --vocab");
        }
        log.accept("vocab: none next to the checkpoint; using bert-base-uncased's (same size)");
        return bundled;
    }
}
