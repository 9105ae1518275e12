package dev.jbert.core.model;

import dev.jbert.core.io.ModelFileException;
import dev.jbert.core.io.SafeTensorsWriter;
import dev.jbert.tokenizer.Vocab;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * What the importers of pretrained encoders from other frameworks (TensorFlow checkpoints, ONNX
 * graphs) share. Each finds, by its own rules, which of its tensors is which of jbert's (HF names);
 * this class infers the config from their shapes, checks every shape, turns dense kernels stored
 * {@code [in, out]} into PyTorch's {@code [out, in]}, and writes the model directory. A pretrained
 * encoder has no QA head: it is left out, and {@link ModelDirectory#load} initializes it.
 */
public final class EncoderImport {
    private static final int HEAD_WIDTH = 64;

    /**
     * A tensor of the source file: its name and shape there, whether it is a dense kernel stored
     * {@code [in, out]} (TensorFlow kernels, ONNX MatMul weights), and its values, read on demand.
     */
    public record Source(String name, long[] shape, boolean inOut, Supplier<float[]> values) {}

    private EncoderImport() {}

    /**
     * The config from the shapes: vocab, hidden, positions and token types from the embeddings,
     * intermediate size from layer 0, layers by counting. Shapes cannot tell the attention heads:
     * {@code heads} null means 64-wide heads, as in every BERT Google released. The rest is
     * bert-base's (dropout 0.1, eps 1e-12, initializer range 0.02, GELU).
     */
    public static BertConfig inferConfig(Path file, Map<String, Source> sources, Integer heads) {
        long[] word = source(file, sources, "bert.embeddings.word_embeddings.weight").shape();
        long[] position = source(file, sources, "bert.embeddings.position_embeddings.weight").shape();
        long[] types = source(file, sources, "bert.embeddings.token_type_embeddings.weight").shape();
        Source intermediate = source(file, sources, "bert.encoder.layer.0.intermediate.dense.weight");
        int layers = 0;
        while (sources.containsKey(ParameterLayout.layerPrefix(layers) + "output.dense.weight")) {
            layers++;
        }
        int hidden = (int) word[1];
        if (heads == null && hidden % HEAD_WIDTH != 0) {
            throw new ModelFileException(file + ": hidden size " + hidden + " is not a multiple of 64; pass --heads or --config");
        }
        if (heads != null && hidden % heads != 0) {
            throw new ModelFileException(file + ": hidden size " + hidden + " is not a multiple of " + heads + " heads");
        }
        BertConfig base = BertConfig.bertBase();
        return new BertConfig((int) word[0], hidden, layers, heads != null ? heads : hidden / HEAD_WIDTH,
                (int) intermediate.shape()[intermediate.inOut() ? 1 : 0], (int) position[0], (int) types[0],
                base.hiddenDropout(), base.attentionDropout(), base.layerNormEps(), base.initializerRange());
    }

    /** Converts every encoder tensor of {@code config} and writes the model directory {@code out}. */
    public static void write(Path file, BertConfig config, Map<String, Source> sources, Vocab vocab, Path out,
                             Consumer<String> log) {
        List<SafeTensorsWriter.Tensor> tensors = new ArrayList<>();
        for (ParameterLayout.Tensor tensor : new ParameterLayout(config).tensors()) {
            if (!tensor.name().startsWith("qa_outputs.")) {
                tensors.add(convert(file, source(file, sources, tensor.name()), tensor));
            }
        }
        ModelDirectory.write(out, config, tensors, vocab);
        log.accept("converted " + tensors.size() + " tensors (" + config.layers() + " layers, hidden "
                + config.hiddenSize() + ", " + config.heads() + " heads); the QA head is initialized when the model is loaded");
    }

    private static SafeTensorsWriter.Tensor convert(Path file, Source source, ParameterLayout.Tensor tensor) {
        long[] shape = Arrays.stream(tensor.shape()).asLongStream().toArray();
        long[] expected = source.inOut() ? new long[] {shape[1], shape[0]} : shape;
        if (!Arrays.equals(source.shape(), expected)) {
            throw new ModelFileException(file + ": tensor " + source.name() + " (" + tensor.name() + ") has shape "
                    + Arrays.toString(source.shape()) + ", expected " + Arrays.toString(expected));
        }
        float[] values = source.values().get();
        if (source.inOut()) {
            // [in, out] -> PyTorch's Linear weight [out, in]
            int rows = tensor.shape()[0];
            int cols = tensor.shape()[1];
            float[] transposed = new float[values.length];
            for (int i = 0; i < cols; i++) {
                for (int o = 0; o < rows; o++) {
                    transposed[o * cols + i] = values[i * rows + o];
                }
            }
            values = transposed;
        }
        return new SafeTensorsWriter.Tensor(tensor.name(), shape, values);
    }

    /** The source of jbert's tensor {@code name}; a file without it is not a BERT encoder. */
    public static Source source(Path file, Map<String, Source> sources, String name) {
        Source source = sources.get(name);
        if (source == null) {
            throw new ModelFileException(file + ": no tensor for " + name + " (is it a BERT encoder?)");
        }
        return source;
    }

    /**
     * The vocab: {@code vocabFile} when given, else the first of {@code candidates} that exists,
     * else bert-base-uncased's when the sizes match.
     */
    public static Vocab vocab(Path file, Path vocabFile, List<Path> candidates, BertConfig config, Consumer<String> log) {
        if (vocabFile != null) {
            return logged(vocabFile, log);
        }
        for (Path candidate : candidates) {
            if (Files.exists(candidate)) {
                return logged(candidate, log);
            }
        }
        Vocab bundled = Vocab.bertBaseUncased();
        if (bundled.size() != config.vocabSize()) {
            throw new ModelFileException(file + ": no vocab.txt found and the vocab size is " + config.vocabSize()
                    + ", not bert-base-uncased's " + bundled.size() + "; pass --vocab");
        }
        log.accept("vocab: bert-base-uncased's (the same size, " + bundled.size() + " tokens)");
        return bundled;
    }

    private static Vocab logged(Path vocabFile, Consumer<String> log) {
        Vocab vocab = Vocab.load(vocabFile);
        log.accept("vocab: " + vocabFile + " (" + vocab.size() + " tokens)");
        return vocab;
    }
}
