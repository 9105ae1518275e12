package dev.jbert.core.tf;

import static dev.jbert.core.io.ProtoWriter.concat;
import static dev.jbert.core.io.ProtoWriter.field;
import static dev.jbert.core.io.ProtoWriter.lengthDelimited;
import static dev.jbert.core.io.ProtoWriter.message;
import static dev.jbert.core.io.ProtoWriter.varint;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.core.io.ModelFileException;
import dev.jbert.core.io.SafeTensorsReader;
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
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The converter on a checkpoint written the way TensorFlow writes one (a LevelDB table of
 * BundleEntryProtos plus a data shard), built here from the tiny PyTorch fixture with Google's
 * names and [in, out] kernels: converting it back must give the fixture's weights exactly.
 */
class TfCheckpointConverterTest {
    static final Path FIXTURE = TinyQaFixture.DIR;

    @TempDir
    Path dir;

    @Test
    void namesMapAsGoogleAndHuggingFaceSpellThem() {
        assertEquals("bert.encoder.layer.11.attention.self.query.weight",
                TfCheckpointConverter.hfName("module/bert/encoder/layer_11/attention/self/query/kernel"));
        assertEquals("bert.embeddings.LayerNorm.bias", TfCheckpointConverter.hfName("bert/embeddings/LayerNorm/beta"));
        assertEquals("bert.embeddings.word_embeddings.weight", TfCheckpointConverter.hfName("bert/embeddings/word_embeddings"));
        assertNull(TfCheckpointConverter.hfName("bert/pooler/dense/kernel"));
        assertNull(TfCheckpointConverter.hfName("cls/predictions/output_bias"));
        assertNull(TfCheckpointConverter.hfName("bert/encoder/layer_0/output/dense/kernel/adam_m"));
    }

    @Test
    void aTensorFlowCheckpointConvertsToTheSameWeights() throws IOException {
        Path prefix = writeCheckpoint(dir.resolve("ckpt"));
        Files.copy(FIXTURE.resolve("vocab.txt"), dir.resolve("ckpt").resolve("vocab.txt"));
        List<String> log = new ArrayList<>();
        Path out = dir.resolve("model");
        TfCheckpointConverter.convert(prefix, FIXTURE.resolve("config.json"), null, null, out, log::add);
        TinyQaFixture.assertImportedExactly(out);
    }

    @Test
    void aSavedModelZipInsideAJarIsReadDirectly() throws IOException {
        Path prefix = writeCheckpoint(dir.resolve("saved/variables"));
        byte[] inner = zip(Map.of(
                "variables/variables.index", Files.readAllBytes(Path.of(prefix + ".index")),
                "variables/variables.data-00000-of-00001", Files.readAllBytes(Path.of(prefix + ".data-00000-of-00001")),
                "assets/vocab.txt", Files.readAllBytes(FIXTURE.resolve("vocab.txt"))));
        Path jar = Files.write(dir.resolve("model.jar"), zip(Map.of("com/example/bert-model", inner)));
        Path extracted = TfCheckpointConverter.extractArchive(jar, dir.resolve("extracted"));
        Path out = dir.resolve("model");
        TfCheckpointConverter.convert(extracted, FIXTURE.resolve("config.json"), null, null, out, line -> {});
        TinyQaFixture.assertImportedExactly(out);
    }

    @Test
    void brokenIndexFilesAreReportedByName() throws IOException {
        Path bad = dir.resolve("bad");
        Files.write(Path.of(bad + ".index"), new byte[100]);
        ModelFileException e = assertThrows(ModelFileException.class, () -> TensorBundle.open(bad));
        assertTrue(e.getMessage().contains("bad.index: not a TensorFlow checkpoint index"), e.getMessage());
        e = assertThrows(ModelFileException.class, () -> TensorBundle.open(dir.resolve("absent")));
        assertTrue(e.getMessage().contains("absent.index: no such file"), e.getMessage());
    }

    /** The fixture's encoder as a TF checkpoint: Google's names, kernels transposed to [in, out]. */
    private static Path writeCheckpoint(Path directory) throws IOException {
        Files.createDirectories(directory);
        Map<String, byte[]> entries = new TreeMap<>(); // an SSTable's keys are sorted
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        entries.put("", message(field(1, 1))); // BundleHeaderProto: num_shards 1
        try (SafeTensorsReader reader = SafeTensorsReader.open(FIXTURE.resolve(ModelDirectory.WEIGHTS))) {
            for (var tensor : reader.tensors().values()) {
                String name = tensor.name();
                if (name.startsWith("qa_outputs")) {
                    continue;
                }
                float[] values = reader.read(name);
                long[] shape = tensor.shape();
                String tfName = "module/" + name.replace(".layer.", ".layer_").replace('.', '/');
                if (name.contains("LayerNorm")) {
                    tfName = tfName.replace("/weight", "/gamma").replace("/bias", "/beta");
                } else if (name.contains("_embeddings")) {
                    tfName = tfName.replace("/weight", "");
                } else if (name.endsWith(".weight")) {
                    tfName = tfName.replace("/weight", "/kernel");
                    values = TinyQaFixture.transpose(values, (int) shape[0], (int) shape[1]);
                    shape = new long[] {shape[1], shape[0]};
                }
                ByteBuffer bytes = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(values);
                ByteArrayOutputStream dims = new ByteArrayOutputStream();
                for (long dim : shape) {
                    dims.writeBytes(lengthDelimited(2, message(field(1, dim))));
                }
                entries.put(tfName, message(field(1, 1), lengthDelimited(2, dims.toByteArray()),
                        field(4, data.size()), field(5, bytes.capacity())));
                data.writeBytes(bytes.array());
            }
        }
        Path prefix = directory.resolve("variables");
        Files.write(Path.of(prefix + ".data-00000-of-00001"), data.toByteArray());
        Files.write(Path.of(prefix + ".index"), table(entries));
        return prefix;
    }

    /** A LevelDB table: one data block (no prefix sharing), an index block, an empty metaindex, the footer. */
    private static byte[] table(Map<String, byte[]> entries) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long dataSize = block(out, entries);
        long metaOffset = out.size();
        long metaSize = block(out, Map.of());
        long indexOffset = out.size();
        String lastKey = ((TreeMap<String, byte[]>) entries).lastKey();
        long indexSize = block(out, Map.of(lastKey, concat(varint(0), varint(dataSize))));
        ByteBuffer footer = ByteBuffer.allocate(48).order(ByteOrder.LITTLE_ENDIAN);
        footer.put(concat(varint(metaOffset), varint(metaSize), varint(indexOffset), varint(indexSize)));
        footer.putLong(40, 0xdb4775248b80fb57L);
        out.writeBytes(footer.array());
        return out.toByteArray();
    }

    /** Writes a block and its 5-byte trailer; returns the block's size without the trailer. */
    private static long block(ByteArrayOutputStream out, Map<String, byte[]> entries) {
        int start = out.size();
        for (var entry : entries.entrySet()) {
            byte[] key = entry.getKey().getBytes(StandardCharsets.UTF_8);
            out.writeBytes(concat(varint(0), varint(key.length), varint(entry.getValue().length), key, entry.getValue()));
        }
        ByteBuffer restarts = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(1);
        out.writeBytes(restarts.array());
        long size = out.size() - start;
        out.writeBytes(new byte[5]); // no compression, crc not checked
        return size;
    }

    private static byte[] zip(Map<String, byte[]> files) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            for (var file : new TreeMap<>(files).entrySet()) {
                zip.putNextEntry(new ZipEntry(file.getKey()));
                zip.write(file.getValue());
                zip.closeEntry();
            }
        }
        return bytes.toByteArray();
    }
}
