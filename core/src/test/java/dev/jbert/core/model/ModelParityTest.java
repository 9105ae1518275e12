package dev.jbert.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jbert.core.io.SafeTensorsReader;
import dev.jbert.core.train.Optimizer;
import dev.jbert.kernels.AdamW;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.cpu.CpuBackend;
import dev.jbert.kernels.cuda.Cuda;
import dev.jbert.kernels.cuda.CudaBackend;
import dev.jbert.kernels.cuda.Precision;
import java.io.IOException;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * BertQa against an independent PyTorch implementation (core/src/test/python/make_qa_fixture.py):
 * a tiny 2-layer model on a padded batch of 3 windows. The logits, the loss, every parameter's
 * gradient, and the losses, gradient norms and parameters after 5 AdamW steps with clipping.
 *
 * <p>The fixture is float64; jbert computes in float32, so the tolerances are float's:
 * about 1e-5 relative to the size of each tensor. Every test runs on the CPU backend and, where a
 * GPU is present, on the CUDA backend in fp32 (its bf16 and tf32 modes are held to the CPU in
 * {@code CudaModelParityTest}).
 */
@ParameterizedClass(name = "{0}")
@MethodSource("devices")
class ModelParityTest {
    static final Path FIXTURE = Path.of("src/test/resources/fixtures/tiny-qa");

    @Parameter
    String device;

    private Backend backend;
    private BertQa model;
    private Batch batch;
    private SafeTensorsReader expected;

    @BeforeEach
    void load() throws IOException {
        backend = device.equals("cpu") ? new CpuBackend(2, true) : new CudaBackend(Precision.FP32);
        model = ModelDirectory.load(FIXTURE, backend, 3, 13, 0).model();
        batch = readBatch(FIXTURE.resolve("batch.json"));
        expected = SafeTensorsReader.open(FIXTURE.resolve("expected.safetensors"));
    }

    static Stream<String> devices() {
        return Cuda.available() ? Stream.of("cpu", "cuda fp32") : Stream.of("cpu");
    }

    @AfterEach
    void close() {
        expected.close();
        backend.close();
    }

    static Batch readBatch(Path file) throws IOException {
        JsonNode json = new ObjectMapper().readTree(file.toFile());
        return new Batch(json.get("batch").asInt(), json.get("tokens").asInt(), ints(json, "input_ids"),
                ints(json, "token_type_ids"), ints(json, "attention_mask"), ints(json, "start_positions"),
                ints(json, "end_positions"));
    }

    private static int[] ints(JsonNode json, String field) {
        JsonNode array = json.get(field);
        int[] values = new int[array.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = array.get(i).asInt();
        }
        return values;
    }

    @Test
    void forwardMatchesPyTorch() {
        float loss = model.forward(batch, null);
        assertClose("start_logits", expected.read("start_logits"), model.startLogits(), 1e-5, 0);
        assertClose("end_logits", expected.read("end_logits"), model.endLogits(), 1e-5, 0);
        assertEquals(expected.read("loss")[0], loss, 1e-5, "loss");
    }

    @Test
    void gradientsMatchPyTorch() {
        model.zeroGradients();
        model.forward(batch, null);
        model.backward(1);
        for (ParameterLayout.Tensor tensor : model.layout().tensors()) {
            float[] actual = new float[tensor.size()];
            backend.copyOut(model.gradients().all().slice(tensor.offset(), tensor.size()), actual);
            assertClose("grad." + tensor.name(), expected.read("grad." + tensor.name()), actual, 1e-4, 1e-6);
        }
    }

    @Test
    void fiveAdamWStepsWithClippingMatchPyTorch() {
        Optimizer optimizer = new Optimizer(model);
        AdamW settings = new AdamW(1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f);
        float[] losses = expected.read("adamw.losses");
        float[] norms = expected.read("adamw.grad_norms");
        for (int step = 0; step < 5; step++) {
            model.zeroGradients();
            float loss = model.forward(batch, null);
            model.backward(1);
            float norm = optimizer.step(settings, 1f);
            assertEquals(losses[step], loss, 1e-4 * losses[step], "loss before step " + (step + 1));
            assertEquals(norms[step], norm, 1e-4 * norms[step], "gradient norm at step " + (step + 1));
        }
        for (ParameterLayout.Tensor tensor : model.layout().tensors()) {
            float[] actual = new float[tensor.size()];
            backend.copyOut(model.parameters().all().slice(tensor.offset(), tensor.size()), actual);
            float[] after = expected.read("adamw." + tensor.name());
            if (isZeroInExactArithmetic(expected.read("grad." + tensor.name()))) {
                // the key bias (softmax ignores a shift of all scores), the QA bias (softmax rows sum
                // to 1) and the last LayerNorm's bias (so do the head's) have a gradient of exactly 0;
                // AdamW divides it by its own RMS, so rounding noise moves them by up to lr a step
                assertClose("after 5 steps: " + tensor.name(), after, actual, 0, 5 * settings.learningRate());
            } else {
                assertClose("after 5 steps: " + tensor.name(), after, actual, 1e-4, 0);
            }
        }
    }

    static boolean isZeroInExactArithmetic(float[] gradient) {
        for (float value : gradient) {
            if (Math.abs(value) > 1e-12) {
                return false;
            }
        }
        return true;
    }

    /**
     * Every element within {@code tolerance} times the tensor's largest magnitude (so a tensor's
     * tiny elements are not held to a relative error float cannot give them), plus {@code floor}.
     */
    static void assertClose(String what, float[] expected, float[] actual, double tolerance, double floor) {
        assertEquals(expected.length, actual.length, what + ": length");
        double scale = 0;
        for (float value : expected) {
            scale = Math.max(scale, Math.abs(value));
        }
        for (int i = 0; i < expected.length; i++) {
            if (!(Math.abs(expected[i] - actual[i]) <= tolerance * scale + floor)) {
                fail(String.format("%s: element %d is %s, PyTorch says %s (scale %.3g)", what, i, actual[i], expected[i], scale));
            }
        }
    }
}
