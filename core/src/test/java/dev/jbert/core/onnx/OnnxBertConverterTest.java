package dev.jbert.core.onnx;

import static dev.jbert.core.io.ProtoWriter.concat;
import static dev.jbert.core.io.ProtoWriter.field;
import static dev.jbert.core.io.ProtoWriter.lengthDelimited;
import static dev.jbert.core.io.ProtoWriter.message;
import static dev.jbert.core.io.ProtoWriter.string;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.core.io.ModelFileException;
import dev.jbert.core.io.ProtoWriter;
import dev.jbert.core.io.SafeTensorsReader;
import dev.jbert.core.model.BertConfig;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.core.model.TinyQaFixture;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The converter on an ONNX file written the way PyTorch exports BERT (see OnnxBertConverter):
 * the tiny fixture's encoder with named embeddings, LayerNorms and biases, anonymous {@code [in,
 * out]} MatMul weights, and the query reshape that tells the heads. Converting it back must give
 * the fixture's weights exactly, and its config (4 heads of 8: no 64-wide guess would do).
 */
class OnnxBertConverterTest {
    private static final Path FIXTURE = TinyQaFixture.DIR;
    private static final Path VOCAB = FIXTURE.resolve("vocab.txt");

    @TempDir
    Path dir;

    @Test
    void anExportedEncoderConvertsToTheSameWeightsAndConfig() throws IOException {
        Path onnx = Files.write(dir.resolve("model.onnx"), export(Export.AS_PYTORCH_DOES));
        List<String> log = new ArrayList<>();
        Path out = dir.resolve("model");
        OnnxBertConverter.convert(onnx, null, null, VOCAB, out, log::add);
        TinyQaFixture.assertImportedExactly(out);
        assertEquals(BertConfig.read(FIXTURE.resolve(ModelDirectory.CONFIG)), BertConfig.read(out.resolve(ModelDirectory.CONFIG)));
        assertTrue(log.getLast().contains("converted 37 tensors (2 layers, hidden 32, 4 heads)"), log.toString());
    }

    @Test
    void theOnnxInsideAJarIsReadInPlace() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            zip.putNextEntry(new ZipEntry("README"));
            zip.write("a model".getBytes(StandardCharsets.UTF_8));
            zip.putNextEntry(new ZipEntry("models/encoder.onnx"));
            zip.write(export(Export.AS_PYTORCH_DOES));
        }
        Path jar = Files.write(dir.resolve("model.jar"), bytes.toByteArray());
        List<String> log = new ArrayList<>();
        OnnxBertConverter.convert(jar, null, null, VOCAB, dir.resolve("model"), log::add);
        TinyQaFixture.assertImportedExactly(dir.resolve("model"));
        assertEquals("reading models/encoder.onnx inside " + jar, log.getFirst());
        try (var files = Files.list(dir)) {
            assertEquals(2, files.count(), "nothing extracted beside the jar and the model");
        }
    }

    @Test
    void theHeadsComeFromTheGraphElseFromTheCaller() throws IOException {
        Path onnx = Files.write(dir.resolve("model.onnx"), export(Export.WITHOUT_RESHAPE));
        assertError("model.onnx: the graph does not tell the number of attention heads; pass --heads",
                () -> OnnxBertConverter.convert(onnx, null, null, VOCAB, dir.resolve("a"), line -> {}));
        OnnxBertConverter.convert(onnx, null, 4, VOCAB, dir.resolve("b"), line -> {});
        TinyQaFixture.assertImportedExactly(dir.resolve("b"));

        Path full = Files.write(dir.resolve("full.onnx"), export(Export.AS_PYTORCH_DOES));
        assertError("full.onnx: the graph has 4 attention heads, not 8",
                () -> OnnxBertConverter.convert(full, null, 8, VOCAB, dir.resolve("c"), line -> {}));
    }

    @Test
    void filesThatAreNotBertEncodersAreOneLineErrorsNamingTheFile() throws IOException {
        Path text = Files.writeString(dir.resolve("notes.onnx"), "hello, not a model\n");
        assertError("notes.onnx: not a readable ONNX model", () -> convert(text));

        byte[] relu = message(field(1, 8), lengthDelimited(7, message(
                lengthDelimited(1, message(string(1, "x"), string(2, "y"), string(3, "/Relu"), string(4, "Relu"))),
                lengthDelimited(5, floatTensor("w", new long[] {2}, new float[] {1, 2}))))); // not a BERT
        Path other = Files.write(dir.resolve("relu.onnx"), relu);
        assertError("relu.onnx: no tensor for bert.encoder.layer.0.attention.self.query.bias (is it a BERT encoder?)",
                () -> convert(other));

        Path partial = Files.write(dir.resolve("partial.onnx"), export(Export.WITHOUT_A_LAYER_NORM_BIAS));
        assertError("partial.onnx: no tensor for bert.encoder.layer.1.output.LayerNorm.bias", () -> convert(partial));

        Path noErf = Files.write(dir.resolve("relu-ffn.onnx"), export(Export.WITHOUT_ERF));
        assertError("relu-ffn.onnx: no Erf node", () -> convert(noErf));

        Path jar = Files.write(dir.resolve("empty.jar"), zipWithOneEntry("README"));
        assertError("empty.jar: no .onnx entry inside", () -> convert(jar));
        assertError("absent.onnx: no such file", () -> convert(dir.resolve("absent.onnx")));
        try (var files = Files.list(dir)) {
            assertFalse(files.anyMatch(path -> path.getFileName().toString().equals("out")), "nothing written");
        }
    }

    private void convert(Path file) {
        OnnxBertConverter.convert(file, null, null, VOCAB, dir.resolve("out"), line -> {});
    }

    private static void assertError(String expected, Runnable conversion) {
        ModelFileException e = assertThrows(ModelFileException.class, conversion::run);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    private static byte[] zipWithOneEntry(String name) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            zip.putNextEntry(new ZipEntry(name));
        }
        return bytes.toByteArray();
    }

    enum Export { AS_PYTORCH_DOES, WITHOUT_RESHAPE, WITHOUT_A_LAYER_NORM_BIAS, WITHOUT_ERF }

    /**
     * The fixture's encoder as a ModelProto the way torch.onnx.export writes BERT: initializers
     * named after the parameters without {@code bert.}; each Linear weight as
     * {@code onnx::MatMul_N}, transposed, into a MatMul whose product an Add gives the bias;
     * layer 0's query reshaped to [batch, tokens, heads, width] by a Concat of run-time sizes and
     * constants; an Erf in each GELU. Data is written every way the format allows: raw_data,
     * packed float_data (LayerNorm weights), int64_data, dims unpacked as proto2 writers do.
     */
    private static byte[] export(Export variant) {
        List<byte[]> initializers = new ArrayList<>();
        List<byte[]> nodes = new ArrayList<>();
        int anonymous = 787;
        try (SafeTensorsReader reader = SafeTensorsReader.open(FIXTURE.resolve(ModelDirectory.WEIGHTS))) {
            for (var tensor : reader.tensors().values()) {
                String name = tensor.name().substring(tensor.name().indexOf('.') + 1); // encoder.layer.0...
                long[] shape = tensor.shape();
                float[] values = reader.read(tensor.name());
                boolean linear = shape.length == 2 && !name.startsWith("embeddings.");
                if (tensor.name().startsWith("qa_outputs.")
                        || variant == Export.WITHOUT_A_LAYER_NORM_BIAS && name.equals("encoder.layer.1.output.LayerNorm.bias")) {
                    continue;
                }
                if (!linear) {
                    initializers.add(name.contains("LayerNorm.weight") ? packedFloatTensor(name, shape, values)
                            : floatTensor(name, shape, values));
                    continue;
                }
                String module = name.substring(0, name.length() - ".weight".length());
                String scope = "/" + module.replace('.', '/').replaceAll("layer/(\\d+)", "layer.$1");
                String weight = "onnx::MatMul_" + anonymous++;
                initializers.add(floatTensor(weight, new long[] {shape[1], shape[0]},
                        TinyQaFixture.transpose(values, (int) shape[0], (int) shape[1])));
                nodes.add(node(scope + "/MatMul", "MatMul", List.of(scope + "/input", weight), scope + "/MatMul_output_0"));
                List<String> addInputs = module.endsWith("output.dense") // either order: an Add commutes
                        ? List.of(scope + "/MatMul_output_0", module + ".bias") : List.of(module + ".bias", scope + "/MatMul_output_0");
                nodes.add(node(scope + "/Add", "Add", addInputs, scope + "/Add_output_0"));
                if (module.equals("encoder.layer.0.attention.self.query") && variant != Export.WITHOUT_RESHAPE) {
                    nodes.addAll(queryReshape(scope + "/Add_output_0"));
                }
            }
        }
        initializers.add(message(field(1, 1), field(1, 40), field(2, OnnxTensor.INT64), string(8, "embeddings.position_ids"),
                lengthDelimited(7, concat(LongStream.range(0, 40).mapToObj(ProtoWriter::varint).toArray(byte[][]::new)))));
        if (variant != Export.WITHOUT_ERF) {
            nodes.add(node("/encoder/layer.0/intermediate/intermediate_act_fn/Erf", "Erf", List.of("a"), "b"));
        }
        List<byte[]> graph = new ArrayList<>();
        nodes.forEach(node -> graph.add(lengthDelimited(1, node)));
        graph.add(string(2, "main_graph"));
        initializers.forEach(tensor -> graph.add(lengthDelimited(5, tensor)));
        return message(field(1, 8), string(2, "pytorch"), lengthDelimited(7, concat(graph.toArray(byte[][]::new))));
    }

    /** HF's transpose_for_scores: Reshape(query, Concat(batch, tokens, [heads], [width])), the sizes read at run time. */
    private static List<byte[]> queryReshape(String query) {
        String self = "/encoder/layer.0/attention/self";
        byte[] heads = message(field(1, 1), field(2, OnnxTensor.INT64), lengthDelimited(7, ProtoWriter.varint(4)));
        byte[] width = message(field(1, 1), field(2, OnnxTensor.INT64),
                lengthDelimited(9, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(8).array()));
        return List.of(
                node(self + "/Unsqueeze", "Unsqueeze", List.of(self + "/Gather_output_0"), self + "/Unsqueeze_output_0"),
                node(self + "/Unsqueeze_1", "Unsqueeze", List.of(self + "/Gather_1_output_0"), self + "/Unsqueeze_1_output_0"),
                constant(self + "/Constant_10", heads), constant(self + "/Constant_11", width),
                node(self + "/Concat_2", "Concat", List.of(self + "/Unsqueeze_output_0", self + "/Unsqueeze_1_output_0",
                        self + "/Constant_10_output_0", self + "/Constant_11_output_0"), self + "/Concat_2_output_0"),
                node(self + "/Reshape_2", "Reshape", List.of(query, self + "/Concat_2_output_0"), self + "/Reshape_2_output_0"));
    }

    /** NodeProto: 1 input, 2 output, 3 name, 4 op_type. */
    private static byte[] node(String name, String opType, List<String> inputs, String output) {
        List<byte[]> fields = new ArrayList<>();
        inputs.forEach(input -> fields.add(string(1, input)));
        fields.add(string(2, output));
        fields.add(string(3, name));
        fields.add(string(4, opType));
        return concat(fields.toArray(byte[][]::new));
    }

    /** A Constant node: its tensor is the attribute {@code value} (AttributeProto: 1 name, 5 t, 20 type TENSOR = 4). */
    private static byte[] constant(String name, byte[] tensor) {
        return concat(string(2, name + "_output_0"), string(3, name), string(4, "Constant"),
                lengthDelimited(5, message(string(1, "value"), lengthDelimited(5, tensor), field(20, 4))));
    }

    /** TensorProto with raw_data: 1 dims (unpacked), 2 data_type, 8 name, 9 raw_data. */
    private static byte[] floatTensor(String name, long[] dims, float[] values) {
        ByteBuffer raw = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(values);
        return concat(dims(dims), field(2, OnnxTensor.FLOAT), string(8, name), lengthDelimited(9, raw.array()));
    }

    /** TensorProto with packed float_data (4). */
    private static byte[] packedFloatTensor(String name, long[] dims, float[] values) {
        ByteBuffer packed = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        packed.asFloatBuffer().put(values);
        return concat(dims(dims), field(2, OnnxTensor.FLOAT), string(8, name), lengthDelimited(4, packed.array()));
    }

    private static byte[] dims(long[] dims) {
        byte[] fields = new byte[0];
        for (long dim : dims) {
            fields = concat(fields, field(1, dim));
        }
        return fields;
    }
}
