package dev.jbert.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.core.io.ModelFileException;
import dev.jbert.core.io.SafeTensorsReader;
import dev.jbert.core.io.SafeTensorsWriter;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.cpu.CpuBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading and saving model directories, with the tiny PyTorch fixture as the source. */
class ModelDirectoryTest {
    @TempDir
    Path dir;

    private final Backend backend = new CpuBackend(1, true);

    @AfterEach
    void close() {
        backend.close();
    }

    @Test
    void savedModelLoadsBackIdentical() {
        ModelDirectory.Loaded loaded = ModelDirectory.load(ModelParityTest.FIXTURE, backend, 1, 8, 0);
        assertTrue(loaded.notes().isEmpty(), loaded.notes().toString());
        ModelDirectory.save(loaded.model(), loaded.vocab(), dir);
        ModelDirectory.Loaded again = ModelDirectory.load(dir, backend, 1, 8, 0);
        assertArrayEquals(all(loaded.model()), all(again.model()));
        assertEquals(loaded.model().config(), again.model().config());
        assertEquals(loaded.vocab().size(), again.vocab().size());
    }

    @Test
    void acceptsNamesWithoutPrefixLegacyLayerNormNamesAndUnusedPretrainingTensors() throws IOException {
        rewrite(name -> {
            String renamed = name.startsWith("bert.") ? name.substring(5) : name;
            return renamed.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta");
        }, List.of(new SafeTensorsWriter.Tensor("bert.pooler.dense.bias", new long[] {32}, new float[32])));
        ModelDirectory.Loaded loaded = ModelDirectory.load(dir, backend, 1, 8, 0);
        ModelDirectory.Loaded original = ModelDirectory.load(ModelParityTest.FIXTURE, backend, 1, 8, 0);
        assertArrayEquals(all(original.model()), all(loaded.model()));
        assertTrue(loaded.notes().getFirst().contains("ignored 1 tensors"), loaded.notes().toString());
    }

    @Test
    void aMissingQaHeadIsInitializedAndSaidSo() throws IOException {
        rewrite(name -> name.startsWith("qa_outputs") ? null : name, List.of());
        ModelDirectory.Loaded loaded = ModelDirectory.load(dir, backend, 1, 8, 7);
        assertTrue(loaded.notes().getFirst().contains("no QA head"), loaded.notes().toString());
        ParameterLayout.Tensor weight = loaded.model().layout().get("qa_outputs.weight");
        float[] values = new float[weight.size()];
        backend.copyOut(loaded.model().parameters().all().slice(weight.offset(), weight.size()), values);
        double sumOfSquares = 0;
        for (float v : values) {
            sumOfSquares += v * v;
        }
        double std = Math.sqrt(sumOfSquares / values.length);
        assertTrue(std > 0.01 && std < 0.04, "std " + std + " should be about 0.02");
    }

    @Test
    void missingExtraAndMisshapenTensorsAreNamed() throws IOException {
        rewrite(name -> name.equals("bert.encoder.layer.1.output.dense.bias") ? null : name, List.of());
        assertError("missing tensor bert.encoder.layer.1.output.dense.bias");

        rewrite(UnaryOperator.identity(), List.of(new SafeTensorsWriter.Tensor("bert.encoder.layer.9.x", new long[] {1}, new float[1])));
        assertError("unexpected tensor bert.encoder.layer.9.x");

        rewrite(UnaryOperator.identity(), List.of());
        List<SafeTensorsWriter.Tensor> tensors = read(dir.resolve(ModelDirectory.WEIGHTS));
        tensors.replaceAll(t -> t.name().equals("qa_outputs.bias") ? new SafeTensorsWriter.Tensor(t.name(), new long[] {1, 2}, t.values()) : t);
        SafeTensorsWriter.write(dir.resolve(ModelDirectory.WEIGHTS), tensors, Map.of());
        assertError("tensor qa_outputs.bias has shape [1, 2], the config needs [2]");

        Files.writeString(dir.resolve(ModelDirectory.CONFIG), "{\"hidden_size\": 30, \"num_attention_heads\": 4}");
        assertError("config.json: hidden_size 30 is not a multiple of num_attention_heads 4");
        Files.writeString(dir.resolve(ModelDirectory.CONFIG), "{\"hidden_act\": \"relu\"}");
        assertError("hidden_act is \"relu\"");
        Files.writeString(dir.resolve(ModelDirectory.CONFIG), "{\"hidden_size\": \"big\"}");
        assertError("hidden_size must be an integer");
    }

    private void assertError(String expected) {
        ModelFileException e = assertThrows(ModelFileException.class, () -> ModelDirectory.load(dir, backend, 1, 8, 0));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    /** Copies the fixture into dir, renaming (null drops) tensors and adding some. */
    private void rewrite(UnaryOperator<String> rename, List<SafeTensorsWriter.Tensor> extra) throws IOException {
        for (String file : List.of(ModelDirectory.CONFIG, ModelDirectory.VOCAB)) {
            Files.copy(ModelParityTest.FIXTURE.resolve(file), dir.resolve(file), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        List<SafeTensorsWriter.Tensor> tensors = new ArrayList<>();
        for (SafeTensorsWriter.Tensor t : read(ModelParityTest.FIXTURE.resolve(ModelDirectory.WEIGHTS))) {
            String name = rename.apply(t.name());
            if (name != null) {
                tensors.add(new SafeTensorsWriter.Tensor(name, t.shape(), t.values()));
            }
        }
        tensors.addAll(extra);
        SafeTensorsWriter.write(dir.resolve(ModelDirectory.WEIGHTS), tensors, Map.of());
    }

    private static List<SafeTensorsWriter.Tensor> read(Path file) {
        List<SafeTensorsWriter.Tensor> tensors = new ArrayList<>();
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            reader.tensors().forEach((name, info) -> tensors.add(new SafeTensorsWriter.Tensor(name, info.shape(), reader.read(name))));
        }
        return tensors;
    }

    private float[] all(BertQa model) {
        float[] values = new float[model.layout().size()];
        backend.copyOut(model.parameters().all(), values);
        return values;
    }
}
