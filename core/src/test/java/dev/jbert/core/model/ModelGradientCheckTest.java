package dev.jbert.core.model;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jbert.kernels.cpu.CpuBackend;
import dev.jbert.kernels.reference.ReferenceBackend;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The whole model's backward against finite differences of its forward, in double precision: a
 * tiny BertQa runs on the {@link ReferenceBackend}, so every op is the double-precision
 * reference. Dropout is on (hidden and attention, p = 0.1): a fixed seed and step fix the masks,
 * so the loss stays a smooth function of the parameters, and the check also proves that the
 * backward replays exactly the masks the forward drew.
 */
class ModelGradientCheckTest {
    private static final double H = 1e-6;
    private static final BertConfig CONFIG = new BertConfig(23, 8, 2, 2, 12, 10, 2, 0.1f, 0.1f, 1e-12f, 0.5f);
    // two sequences, the second padded; answers inside them
    private static final Batch BATCH = new Batch(2, 7,
            new int[] {2, 5, 9, 3, 11, 14, 3, 2, 7, 3, 20, 3, 0, 0},
            new int[] {0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0},
            new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
            new int[] {4, 3}, new int[] {5, 4});
    private static final Dropout DROPOUT = new Dropout(99, 5);

    @Test
    void everyKindOfParameterMatchesFiniteDifferences() {
        ReferenceBackend backend = new ReferenceBackend();
        BertQa model = ModelDirectory.initialize(CONFIG, backend, 2, 7, 3);
        SplittableRandom random = new SplittableRandom(11);
        double[] params = withNonZeroBiases(model, backend.values(model.parameters().all()));
        backend.setValues(model.parameters().all(), params);

        model.zeroGradients();
        model.forward(BATCH, DROPOUT);
        model.backward(1);
        double[] gradients = backend.values(model.gradients().all());

        int checked = 0;
        for (ParameterLayout.Tensor tensor : model.layout().tensors()) {
            // every element of small tensors, a sample of the big ones
            int step = Math.max(1, tensor.size() / 24);
            for (int i = random.nextInt(step); i < tensor.size(); i += step) {
                int index = tensor.offset() + i;
                double saved = params[index];
                params[index] = saved + H;
                double plus = loss(model, backend, params, BATCH, DROPOUT);
                params[index] = saved - H;
                double minus = loss(model, backend, params, BATCH, DROPOUT);
                params[index] = saved;
                double numeric = (plus - minus) / (2 * H);
                double analytic = gradients[index];
                if (!(Math.abs(numeric - analytic) <= 1e-7 + 1e-5 * Math.abs(numeric))) {
                    fail(String.format("%s[%d]: backward says %.10g, finite differences %.10g",
                            tensor.name(), i, analytic, numeric));
                }
                checked++;
            }
        }
        assertTrue(checked > 500, "checked " + checked + " parameters");
    }

    /**
     * The CPU backend's gradients, dropout on, against the reference's for the same float
     * parameters: the whole float32 backward, with its fused ops (the attention softmax's backward
     * through dropout draws no mask), against the double-precision ops one by one.
     */
    @Test
    void theCpuBackendsGradientsMatchTheReferencesWithDropoutOn() {
        ReferenceBackend reference = new ReferenceBackend();
        BertQa model = ModelDirectory.initialize(CONFIG, reference, 2, 7, 3);
        double[] params = withNonZeroBiases(model, reference.values(model.parameters().all()));
        float[] floats = new float[params.length];
        for (int i = 0; i < params.length; i++) {
            floats[i] = (float) params[i];
            params[i] = floats[i];
        }
        reference.setValues(model.parameters().all(), params);
        model.zeroGradients();
        model.forward(BATCH, DROPOUT);
        model.backward(1);
        double[] expected = reference.values(model.gradients().all());

        try (CpuBackend cpu = new CpuBackend(2, true)) {
            BertQa cpuModel = ModelDirectory.initialize(CONFIG, cpu, 2, 7, 3);
            cpu.copyIn(floats, cpuModel.parameters().all());
            cpuModel.zeroGradients();
            cpuModel.forward(BATCH, DROPOUT);
            cpuModel.backward(1);
            float[] actual = new float[expected.length];
            cpu.copyOut(cpuModel.gradients().all(), actual);
            for (ParameterLayout.Tensor tensor : model.layout().tensors()) {
                for (int i = 0; i < tensor.size(); i++) {
                    int index = tensor.offset() + i;
                    if (!(Math.abs(actual[index] - expected[index]) <= 1e-6 + 1e-4 * Math.abs(expected[index]))) {
                        fail(String.format("%s[%d]: the CPU backend says %.8g, the reference %.8g",
                                tensor.name(), i, actual[index], expected[index]));
                    }
                }
            }
        }
    }

    /** params with every bias drawn from a Gaussian (initialization sets them to zero). */
    private static double[] withNonZeroBiases(BertQa model, double[] params) {
        SplittableRandom random = new SplittableRandom(11);
        for (ParameterLayout.Tensor tensor : model.layout().tensors()) {
            if (tensor.name().endsWith(".bias")) {
                for (int i = 0; i < tensor.size(); i++) {
                    params[tensor.offset() + i] = random.nextGaussian() * 0.2;
                }
            }
        }
        return params;
    }

    /** The loss in double: the mean of the per-sequence start and end losses the backend holds. */
    private static double loss(BertQa model, ReferenceBackend backend, double[] params, Batch batch, Dropout dropout) {
        backend.setValues(model.parameters().all(), params);
        model.forward(batch, dropout);
        double sum = 0;
        for (double value : backend.values(model.views().startLosses())) {
            sum += value;
        }
        for (double value : backend.values(model.views().endLosses())) {
            sum += value;
        }
        return sum / (2.0 * batch.size());
    }
}
