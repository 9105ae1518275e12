package dev.jbert.core.onnx;

import dev.jbert.core.io.ModelFileException;
import dev.jbert.core.model.BertConfig;
import dev.jbert.core.model.EncoderImport;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.tokenizer.Vocab;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.LongStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Turns a BERT encoder that PyTorch exported to ONNX (as Hugging Face's exporters and Optimum do),
 * such as all-MiniLM-L6-v2 on Maven Central (see scripts/fetch-minilm), into a model directory.
 *
 * <p>What such a file holds: the embeddings, the LayerNorms and every bias as initializers named
 * after the PyTorch parameters ({@code encoder.layer.0.attention.self.query.bias}), but each Linear
 * weight constant-folded into an anonymous initializer ({@code onnx::MatMul_787}) that is the
 * transpose of PyTorch's weight, {@code [in, out]}, and feeds a MatMul whose product gets the bias:
 * {@code Add(encoder.layer.0.attention.self.query.bias, MatMul(x, onnx::MatMul_787))}. So a MatMul
 * weight takes the name of the bias added to its product; node names are not relied on (older
 * exporters number them). Initializers jbert does not use (position_ids, a pooler) are ignored.
 *
 * <p>The config: sizes from the shapes ({@link EncoderImport#inferConfig}); the attention heads
 * from the graph, where the query projection is reshaped to {@code [batch, tokens, heads, width]}
 * with constant heads and width; BERT's LayerNorm eps 1e-12. The feed-forward must be the exact
 * (erf) GELU that jbert implements.
 */
public final class OnnxBertConverter {
    private OnnxBertConverter() {}

    /**
     * Converts {@code file} (an .onnx, or a jar/zip holding one) into {@code out}. {@code config},
     * {@code heads} (needed only when the graph does not tell) and {@code vocabFile} may be null.
     */
    public static void convert(Path file, Path config, Integer heads, Path vocabFile, Path out, Consumer<String> log) {
        OnnxGraph graph;
        try {
            graph = OnnxGraph.parse(modelBytes(file, log));
        } catch (IllegalArgumentException e) {
            throw new ModelFileException(file + ": not a readable ONNX model: " + e.getMessage(), e);
        }
        Map<String, EncoderImport.Source> sources = sources(file, graph);
        BertConfig bertConfig;
        try {
            bertConfig = config != null ? BertConfig.read(config)
                    : EncoderImport.inferConfig(file, sources, heads(file, graph, sources, heads));
        } catch (IllegalArgumentException e) {
            throw new ModelFileException(file + ": " + e.getMessage(), e);
        }
        if (graph.nodes().stream().noneMatch(node -> node.opType().equals("Erf"))) {
            throw new ModelFileException(file + ": no Erf node, so the feed-forward is not the exact GELU that jbert implements");
        }
        Vocab vocab = EncoderImport.vocab(file, vocabFile, List.of(), bertConfig, log);
        EncoderImport.write(file, bertConfig, sources, vocab, out, log);
    }

    /** The model's bytes: the file, or its one {@code *.onnx} entry when it is a jar or zip (read, not extracted). */
    static byte[] modelBytes(Path file, Consumer<String> log) {
        if (!Files.isRegularFile(file)) {
            throw new ModelFileException(file + ": no such file");
        }
        try {
            if (!isZip(file)) {
                return Files.readAllBytes(file);
            }
            try (ZipFile zip = new ZipFile(file.toFile())) {
                List<? extends ZipEntry> models = zip.stream()
                        .filter(entry -> !entry.isDirectory() && entry.getName().endsWith(".onnx")).toList();
                if (models.isEmpty()) {
                    throw new ModelFileException(file + ": no .onnx entry inside");
                }
                if (models.size() > 1) {
                    throw new ModelFileException(file + ": " + models.size() + " .onnx entries inside, expected one: "
                            + String.join(", ", models.stream().map(ZipEntry::getName).toList()));
                }
                log.accept("reading " + models.getFirst().getName() + " inside " + file);
                try (InputStream in = zip.getInputStream(models.getFirst())) {
                    return in.readAllBytes();
                }
            }
        } catch (IOException e) {
            throw new ModelFileException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static boolean isZip(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] signature = in.readNBytes(4);
            return signature.length == 4 && signature[0] == 'P' && signature[1] == 'K' && signature[2] == 3 && signature[3] == 4;
        }
    }

    /** jbert's tensors found in the graph, by HF name. */
    static Map<String, EncoderImport.Source> sources(Path file, OnnxGraph graph) {
        Map<String, EncoderImport.Source> sources = new HashMap<>();
        Set<String> matMulWeights = new HashSet<>();
        for (OnnxGraph.Node node : graph.nodes()) {
            OnnxTensor weight = node.opType().equals("MatMul") && node.inputs().size() == 2
                    ? graph.initializers().get(node.inputs().get(1)) : null;
            if (weight != null) {
                matMulWeights.add(weight.name());
                String bias = biasAddedTo(graph, node.outputs().getFirst());
                if (bias != null) {
                    put(file, sources, bias.substring(0, bias.length() - "bias".length()) + "weight", weight, true);
                }
            }
        }
        for (OnnxTensor tensor : graph.initializers().values()) {
            if (!matMulWeights.contains(tensor.name())) {
                put(file, sources, tensor.name(), tensor, false);
            }
        }
        return sources;
    }

    /** The name of the {@code *.bias} initializer that an Add node adds to {@code value}, or null. */
    private static String biasAddedTo(OnnxGraph graph, String value) {
        for (OnnxGraph.Node node : graph.consumers(value)) {
            if (node.opType().equals("Add")) {
                for (String input : node.inputs()) {
                    if (input.endsWith(".bias") && graph.initializers().containsKey(input)) {
                        return input;
                    }
                }
            }
        }
        return null;
    }

    private static void put(Path file, Map<String, EncoderImport.Source> sources, String fileName, OnnxTensor tensor,
                            boolean inOut) {
        String name = ModelDirectory.canonicalName(fileName);
        EncoderImport.Source previous = sources.put(name, new EncoderImport.Source(tensor.name(), tensor.dims(), inOut, () -> {
            try {
                return tensor.floats();
            } catch (IllegalArgumentException e) {
                throw new ModelFileException(file + ": " + e.getMessage(), e);
            }
        }));
        if (previous != null) {
            throw new ModelFileException(file + ": initializers " + previous.name() + " and " + tensor.name()
                    + " are both " + name);
        }
    }

    /**
     * The attention heads: {@code requested} if given, else the graph's. HF reshapes the query
     * projection (the output of the Add of layer 0's query bias) to {@code [batch, tokens, heads,
     * width]}; the shape is a constant, or a Concat of run-time sizes and constant heads and width.
     */
    static int heads(Path file, OnnxGraph graph, Map<String, EncoderImport.Source> sources, Integer requested) {
        Integer found = null;
        EncoderImport.Source bias = EncoderImport.source(file, sources, "bert.encoder.layer.0.attention.self.query.bias");
        for (OnnxGraph.Node add : graph.consumers(bias.name())) {
            for (OnnxGraph.Node reshape : graph.consumers(add.outputs().getFirst())) {
                boolean isReshape = reshape.opType().equals("Reshape") && reshape.inputs().size() == 2;
                long[] tail = isReshape ? constantTail(graph, reshape.inputs().get(1)) : new long[0];
                int n = tail.length;
                if (n >= 2 && tail[n - 2] > 0 && tail[n - 2] * tail[n - 1] == bias.shape()[0]) {
                    found = (int) tail[n - 2];
                }
            }
        }
        if (requested != null && found != null && !requested.equals(found)) {
            throw new ModelFileException(file + ": the graph has " + found + " attention heads, not " + requested);
        }
        if (requested == null && found == null) {
            throw new ModelFileException(file + ": the graph does not tell the number of attention heads; pass --heads");
        }
        return requested != null ? requested : found;
    }

    /** The last entries of a shape vector that are int64 constants: all of a constant; of a Concat, those after its last computed part. */
    private static long[] constantTail(OnnxGraph graph, String value) {
        OnnxTensor constant = graph.constant(value);
        if (constant != null) {
            return constant.dataType() == OnnxTensor.INT64 ? constant.longs() : new long[0];
        }
        OnnxGraph.Node concat = graph.producer(value);
        if (concat == null || !concat.opType().equals("Concat")) {
            return new long[0];
        }
        long[] tail = new long[0];
        for (int i = concat.inputs().size() - 1; i >= 0; i--) {
            OnnxTensor part = graph.constant(concat.inputs().get(i));
            if (part == null || part.dataType() != OnnxTensor.INT64) {
                break; // a size computed at run time (batch, tokens)
            }
            tail = LongStream.concat(LongStream.of(part.longs()), LongStream.of(tail)).toArray();
        }
        return tail;
    }
}
