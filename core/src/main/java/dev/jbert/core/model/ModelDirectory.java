package dev.jbert.core.model;

import dev.jbert.core.io.AtomicFiles;
import dev.jbert.core.io.FloatSource;
import dev.jbert.core.io.ModelFileException;
import dev.jbert.core.io.SafeTensorsReader;
import dev.jbert.core.io.SafeTensorsWriter;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import dev.jbert.tokenizer.Vocab;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A model directory as Hugging Face lays it out: {@code config.json}, {@code model.safetensors}
 * and {@code vocab.txt}. jbert writes what {@code BertForQuestionAnswering.from_pretrained(dir)}
 * reads, and reads what HF writes.
 *
 * <p>Reading is forgiving where HF is (names with or without the {@code bert.} prefix, the legacy
 * {@code LayerNorm.gamma/beta}, F16 and BF16 values, a pooler or pretraining heads that a QA model
 * does not use, a missing QA head) and strict everywhere else: a missing, unexpected or misshapen
 * tensor is an error naming it.
 */
public final class ModelDirectory {
    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    public static final String VOCAB = "vocab.txt";

    /** A loaded model, its vocab, and what the loader had to say (e.g. an initialized QA head). */
    public record Loaded(BertQa model, Vocab vocab, List<String> notes) {}

    private ModelDirectory() {}

    /**
     * Loads {@code directory} onto {@code backend}, sized for batches up to
     * {@code maxBatch x maxTokens}. A missing QA head is initialized from {@code seed}.
     */
    public static Loaded load(Path directory, Backend backend, int maxBatch, int maxTokens, long seed) {
        if (!Files.isDirectory(directory)) {
            throw new ModelFileException(directory + ": not a model directory");
        }
        BertConfig config = BertConfig.read(directory.resolve(CONFIG));
        Vocab vocab = vocab(directory, config);
        if (maxTokens > config.maxPositions()) {
            throw new ModelFileException(directory.resolve(CONFIG) + ": max_position_embeddings is "
                    + config.maxPositions() + ", fewer than the " + maxTokens + " tokens asked for");
        }
        BertQa model = new BertQa(backend, config, maxBatch, maxTokens);
        List<String> notes = new ArrayList<>();
        try (SafeTensorsReader reader = SafeTensorsReader.open(directory.resolve(WEIGHTS))) {
            readWeights(reader, model, seed, notes);
        }
        return new Loaded(model, vocab, notes);
    }

    /** The directory's vocab.txt, or bert-base-uncased's when it has none; checked against the config. */
    public static Vocab vocab(Path directory, BertConfig config) {
        Path vocabFile = directory.resolve(VOCAB);
        Vocab vocab = Files.exists(vocabFile) ? Vocab.load(vocabFile) : Vocab.bertBaseUncased();
        if (vocab.size() > config.vocabSize()) {
            throw new ModelFileException(vocabFile + ": " + vocab.size() + " tokens, but the config's vocab_size is "
                    + config.vocabSize());
        }
        return vocab;
    }

    private static void readWeights(SafeTensorsReader reader, BertQa model, long seed, List<String> notes) {
        Map<String, String> fileNames = new LinkedHashMap<>(); // layout name -> name in the file
        List<String> ignored = new ArrayList<>();
        for (String fileName : reader.tensors().keySet()) {
            String name = canonicalName(fileName);
            if (model.layout().get(name) != null) {
                if (fileNames.put(name, fileName) != null) {
                    throw new ModelFileException(reader.file() + ": tensors " + fileNames.get(name) + " and "
                            + fileName + " are the same parameter");
                }
            } else if (isUnusedByQa(name)) {
                ignored.add(fileName);
            } else {
                throw new ModelFileException(reader.file() + ": unexpected tensor " + fileName
                        + " (not a parameter of BertForQuestionAnswering)");
            }
        }
        SplittableRandom random = new SplittableRandom(seed);
        List<String> initialized = new ArrayList<>();
        Backend backend = model.backend();
        Buffer all = model.parameters().all();
        for (ParameterLayout.Tensor tensor : model.layout().tensors()) {
            String fileName = fileNames.get(tensor.name());
            FloatSource values;
            if (fileName == null) {
                if (!tensor.name().startsWith("qa_outputs.")) {
                    throw new ModelFileException(reader.file() + ": missing tensor " + tensor.name());
                }
                values = ParameterInit.initialValues(tensor, model.config().initializerRange(), random);
                initialized.add(tensor.name());
            } else {
                long[] shape = reader.tensors().get(fileName).shape();
                if (!Arrays.equals(shape, Arrays.stream(tensor.shape()).asLongStream().toArray())) {
                    throw new ModelFileException(reader.file() + ": tensor " + fileName + " has shape "
                            + Arrays.toString(shape) + ", the config needs " + Arrays.toString(tensor.shape()));
                }
                values = reader.source(fileName);
            }
            BufferTransfer.copyIn(backend, values, all.slice(tensor.offset(), tensor.size()));
        }
        if (!initialized.isEmpty()) {
            notes.add("no QA head in " + reader.file() + ": initialized " + String.join(" and ", initialized)
                    + " as HF does (normal, std " + model.config().initializerRange() + "; bias 0)");
        }
        if (!ignored.isEmpty()) {
            notes.add("ignored " + ignored.size() + " tensors a QA model does not use (pooler, pretraining heads, position_ids)");
        }
    }

    /** The layout's name for a tensor name found in a file. */
    public static String canonicalName(String fileName) {
        String name = fileName.startsWith("bert.") || fileName.startsWith("qa_outputs.") || fileName.startsWith("cls.")
                ? fileName : "bert." + fileName;
        if (name.endsWith("LayerNorm.gamma")) {
            name = name.substring(0, name.length() - "gamma".length()) + "weight";
        } else if (name.endsWith("LayerNorm.beta")) {
            name = name.substring(0, name.length() - "beta".length()) + "bias";
        }
        return name;
    }

    /** Tensors of a pretrained BERT checkpoint that BertForQuestionAnswering drops, as HF does. */
    private static boolean isUnusedByQa(String name) {
        return name.startsWith("bert.pooler.") || name.startsWith("cls.") || name.endsWith(".position_ids");
    }

    /** A new model of {@code config} initialized from scratch as HF would, from {@code seed}. */
    public static BertQa initialize(BertConfig config, Backend backend, int maxBatch, int maxTokens, long seed) {
        BertQa model = new BertQa(backend, config, maxBatch, maxTokens);
        SplittableRandom random = new SplittableRandom(seed);
        for (ParameterLayout.Tensor tensor : model.layout().tensors()) {
            BufferTransfer.copyIn(backend, ParameterInit.initialValues(tensor, config.initializerRange(), random),
                    model.parameters().all().slice(tensor.offset(), tensor.size()));
        }
        return model;
    }

    /** Writes config.json, model.safetensors (F32, HF names) and vocab.txt into {@code directory}. */
    public static void save(BertQa model, Vocab vocab, Path directory) {
        List<SafeTensorsWriter.Tensor> tensors = new ArrayList<>();
        Buffer all = model.parameters().all();
        for (ParameterLayout.Tensor tensor : model.layout().tensors()) {
            tensors.add(new SafeTensorsWriter.Tensor(tensor.name(), Arrays.stream(tensor.shape()).asLongStream().toArray(),
                    BufferTransfer.copyOut(model.backend(), all.slice(tensor.offset(), tensor.size()))));
        }
        write(directory, model.config(), tensors, vocab);
    }

    /** Writes a model directory from tensors already in HF names and shapes (each file atomically). */
    public static void write(Path directory, BertConfig config, List<SafeTensorsWriter.Tensor> tensors, Vocab vocab) {
        SafeTensorsWriter.write(directory.resolve(WEIGHTS), tensors, Map.of("format", "pt"));
        AtomicFiles.writeString(directory.resolve(CONFIG), config.toJson());
        StringBuilder lines = new StringBuilder();
        for (int id = 0; id < vocab.size(); id++) {
            lines.append(vocab.token(id)).append('\n');
        }
        AtomicFiles.writeString(directory.resolve(VOCAB), lines.toString());
    }
}
