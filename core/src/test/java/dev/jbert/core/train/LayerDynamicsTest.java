package dev.jbert.core.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.core.model.Batch;
import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.core.model.ParameterLayout;
import dev.jbert.core.model.TinyQaFixture;
import dev.jbert.kernels.AdamW;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.cpu.CpuBackend;
import dev.jbert.kernels.cuda.CudaBackend;
import dev.jbert.kernels.cuda.Precision;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The per-layer gradient norms and update ratios against the same numbers computed from the buffers
 * by hand, on the CPU and, where there is one, on the GPU in fp32 (its reductions sum in another
 * order, hence the looser bound there).
 */
class LayerDynamicsTest {
    private static final AdamW SETTINGS = new AdamW(1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f);
    private Backend backend;

    private void use(String device) {
        backend = device.equals("cuda") ? new CudaBackend(Precision.FP32) : new CpuBackend(2, true);
    }

    @AfterEach
    void close() {
        backend.close();
    }

    @Test
    void groupsAreTheEmbeddingsEachLayerAndTheHeadBackToBack() {
        use("cpu");
        ParameterLayout layout = model().layout();
        List<ParameterLayout.Group> groups = layout.groups();
        assertEquals(List.of("embeddings", "layer_0", "layer_1", "qa_head"), groups.stream().map(ParameterLayout.Group::name).toList());
        int next = 0;
        for (ParameterLayout.Group group : groups) {
            assertEquals(next, group.offset(), group.name());
            next += group.size();
        }
        assertEquals(layout.size(), next, "the groups cover the buffer");
        ParameterLayout.Tensor firstOfLayer1 = layout.get("bert.encoder.layer.1.attention.self.query.weight");
        assertEquals(firstOfLayer1.offset(), groups.get(2).offset());
        assertEquals(2 * 32 + 2, groups.get(3).size(), "qa_outputs weight [2, 32] and bias [2]");
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.core.TestDevices#all")
    void measuresWhatTheBuffersSay(String device) {
        use(device);
        double tolerance = device.equals("cpu") ? 1e-6 : 1e-5;
        BertQa model = model();
        Optimizer optimizer = new Optimizer(model);
        LayerDynamics dynamics = new LayerDynamics(model);
        List<ParameterLayout.Group> groups = model.layout().groups();
        for (int step = 0; step < 3; step++) {
            model.zeroGradients();
            model.forward(batch(step), null);
            model.backward(1);
            float[] grads = download(model, true);
            float[] before = download(model, false);
            float globalNorm = optimizer.step(SETTINGS, 1f, dynamics);
            float[] after = download(model, false);
            LayerDynamics.Measurement measured = dynamics.read();
            double sumOfSquares = 0;
            for (int g = 0; g < groups.size(); g++) {
                ParameterLayout.Group group = groups.get(g);
                double gradNorm = norm(grads, null, group);
                double ratio = norm(after, before, group) / norm(before, null, group);
                assertEquals(group.name(), measured.groups().get(g));
                assertEquals(gradNorm, measured.gradNorms()[g], tolerance * gradNorm, "gradient norm of " + group.name());
                assertEquals(ratio, measured.updateRatios()[g], 10 * tolerance * ratio, "update ratio of " + group.name());
                assertTrue(ratio > 0 && Double.isFinite(ratio), group.name() + ": " + ratio);
                sumOfSquares += measured.gradNorms()[g] * measured.gradNorms()[g];
            }
            assertEquals(globalNorm, Math.sqrt(sumOfSquares), tolerance * globalNorm, "the layers' norms add up to the global one");
        }
    }

    @ParameterizedTest
    @MethodSource("dev.jbert.core.TestDevices#all")
    void measuringChangesNothing(String device) {
        use(device);
        BertQa measured = model();
        BertQa plain = model();
        Optimizer measuredOptimizer = new Optimizer(measured);
        Optimizer plainOptimizer = new Optimizer(plain);
        LayerDynamics dynamics = new LayerDynamics(measured);
        for (int step = 0; step < 3; step++) {
            for (BertQa model : List.of(measured, plain)) {
                model.zeroGradients();
                model.forward(batch(step), null);
                model.backward(1);
            }
            float a = measuredOptimizer.step(SETTINGS, 1f, step == 1 ? null : dynamics);
            float b = plainOptimizer.step(SETTINGS, 1f);
            assertEquals(b, a, 0, "gradient norm at step " + step);
            assertArrayEquals(download(plain, false), download(measured, false), "parameters after step " + step);
        }
    }

    private BertQa model() {
        return ModelDirectory.load(TinyQaFixture.DIR, backend, 3, 13, 0).model();
    }

    /** Three random labelled windows of 13 tokens in the fixture's vocabulary of 99. */
    private static Batch batch(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int n = 3 * 13;
        int[] ids = random.ints(n, 1, 99).toArray();
        int[] types = new int[n];
        int[] mask = new int[n];
        for (int i = 0; i < n; i++) {
            types[i] = i % 13 < 5 ? 0 : 1;
            mask[i] = i % 13 < 11 || i < 13 ? 1 : 0; // the last two windows end in padding
        }
        return new Batch(3, 13, ids, types, mask, random.ints(3, 5, 11).toArray(), random.ints(3, 5, 11).toArray());
    }

    private float[] download(BertQa model, boolean gradients) {
        float[] values = new float[model.layout().size()];
        backend.copyOut((gradients ? model.gradients() : model.parameters()).all(), values);
        return values;
    }

    /** ||a - b|| over a group, or ||a|| when b is null, in double. */
    private static double norm(float[] a, float[] b, ParameterLayout.Group group) {
        double sum = 0;
        for (int i = group.offset(); i < group.offset() + group.size(); i++) {
            double value = b == null ? a[i] : (double) a[i] - b[i];
            sum += value * value;
        }
        return Math.sqrt(sum);
    }
}
