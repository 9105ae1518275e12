package dev.jbert.core.model;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

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

    @Test
    void everyKindOfParameterMatchesFiniteDifferences() {
        BertConfig config = new BertConfig(23, 8, 2, 2, 12, 10, 2, 0.1f, 0.1f, 1e-12f, 0.5f);
        ReferenceBackend backend = new ReferenceBackend();
        BertQa model = ModelDirectory.initialize(config, backend, 2, 7, 3);
        SplittableRandom random = new SplittableRandom(11);
        double[] params = backend.values(model.parameters().all());
        for (ParameterLayout.Tensor tensor : model.layout().tensors()) {
            if (tensor.name().endsWith(".bias")) {
                for (int i = 0; i < tensor.size(); i++) {
                    params[tensor.offset() + i] = random.nextGaussian() * 0.2; // non-zero biases
                }
            }
        }
        backend.setValues(model.parameters().all(), params);
        // two sequences, the second padded; answers inside them
        Batch batch = new Batch(2, 7,
                new int[] {2, 5, 9, 3, 11, 14, 3, 2, 7, 3, 20, 3, 0, 0},
                new int[] {0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0},
                new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
                new int[] {4, 3}, new int[] {5, 4});
        Dropout dropout = new Dropout(99, 5);

        model.zeroGradients();
        model.forward(batch, dropout);
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
                double plus = loss(model, backend, params, batch, dropout);
                params[index] = saved - H;
                double minus = loss(model, backend, params, batch, dropout);
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
