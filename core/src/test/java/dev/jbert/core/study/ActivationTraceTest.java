package dev.jbert.core.study;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.core.model.Batch;
import dev.jbert.core.model.BertConfig;
import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.core.model.ParameterLayout;
import dev.jbert.core.model.TinyQaFixture;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.cpu.CpuBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** An ActivationTrace of the tiny model (2 layers, C 32, H 4, D 8, I 37) on one labelled window of 10 tokens. */
class ActivationTraceTest {
    static final int T = 10;
    static final List<String> LAYER = List.of("qkv", "probs (scores)", "probs", "context", "dense (attention)",
            "attentionSum", "attentionNorm", "attentionMean", "attentionRstd", "ffnPre", "ffnGelu", "dense (ffn)",
            "outputSum", "output", "outputMean", "outputRstd");

    private Backend backend;
    private BertQa model;
    private final Batch batch = new Batch(1, T, new int[] {2, 10, 11, 3, 20, 21, 22, 23, 24, 3},
            new int[] {0, 0, 0, 0, 1, 1, 1, 1, 1, 1}, new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
            new int[] {5}, new int[] {6});

    @BeforeEach
    void load() {
        backend = new CpuBackend(2, true);
        model = ModelDirectory.load(TinyQaFixture.DIR, backend, 1, T, 0).model();
    }

    @AfterEach
    void close() {
        backend.close();
    }

    private List<TracedTensor> trace(Runnable pass) {
        ActivationTrace trace = new ActivationTrace(backend);
        model.observe(trace);
        pass.run();
        model.observe(null);
        return trace.tensors();
    }

    @Test
    void theForwardListsEveryLayersTensorsInComputationOrder() {
        List<TracedTensor> forward = trace(() -> model.forward(batch, null));
        List<String> expected = new ArrayList<>(List.of(
                "-1 embeddingSum", "-1 embeddingNorm", "-1 embeddingMean", "-1 embeddingRstd", "-1 embeddingOutput"));
        for (int layer = 0; layer < 2; layer++) {
            for (String name : LAYER) {
                expected.add(layer + " " + name);
            }
        }
        Stream.of("logits", "logitsByPosition", "startProbs", "endProbs", "startLosses", "endLosses")
                .forEach(name -> expected.add("-1 " + name));
        assertEquals(expected, forward.stream().map(t -> t.layer() + " " + t.name()).toList());
        forward.forEach(this::assertShapeMatchesAxes);
        assertArrayEquals(new int[] {1, 4, T, T}, forward.get(5 + LAYER.indexOf("probs (scores)")).shape(), "layer 0 probs (scores)");
    }

    @Test
    void tracedLogitsHaveTheStatsOfTheLogitsTheModelReturns() {
        List<TracedTensor> forward = trace(() -> model.forward(batch, null));
        float[] start = model.startLogits(), end = model.endLogits();
        float[] both = new float[2 * T];
        System.arraycopy(start, 0, both, 0, T);
        System.arraycopy(end, 0, both, T, T);
        assertEquals(TensorStats.of(both), named(forward, "logitsByPosition").stats());
        TensorStats logits = named(forward, "logits").stats(); // the same values, interleaved
        assertEquals(TensorStats.of(both).mean(), logits.mean(), 1e-12);
        assertEquals(TensorStats.of(both).max(), logits.max());
    }

    @Test
    void theBackwardListsGradientsWithTheirShapes() {
        model.forward(batch, null);
        model.zeroGradients();
        List<TracedTensor> backward = trace(() -> model.backward(1));
        assertEquals("dLogitsByPosition", backward.getFirst().name());
        backward.stream().filter(t -> t.axes() != null).forEach(this::assertShapeMatchesAxes);
        for (int layer = 0; layer < 2; layer++) {
            int l = layer;
            long dScores = backward.stream().filter(t -> t.layer() == l && t.name().equals("dScores")).count();
            assertEquals(1, dScores, "dScores of layer " + layer);
        }
        // layer 1 goes back before layer 0
        assertTrue(indexOf(backward, "dInput", 1) < indexOf(backward, "dInput", 0));
        // every parameter's gradient is shown once, with its layout shape and, once finished, its final values
        ParameterLayout layout = model.layout();
        for (ParameterLayout.Tensor tensor : layout.tensors()) {
            TracedTensor traced = named(backward, tensor.name());
            assertArrayEquals(tensor.shape(), traced.shape(), tensor.name());
            float[] gradient = new float[tensor.size()];
            backend.copyOut(model.gradients().all().slice(tensor.offset(), tensor.size()), gradient);
            assertEquals(TensorStats.of(gradient), traced.stats(), tensor.name());
        }
        // 10 tokens use at most 10 of the 99 rows of the word embeddings: the rest get no gradient
        assertTrue(named(backward, "bert.embeddings.word_embeddings.weight").stats().zeroFraction() > 0.85);
    }

    private void assertShapeMatchesAxes(TracedTensor tensor) {
        BertConfig c = model.config();
        String[] axes = tensor.axes().split(" ");
        int[] shape = tensor.shape();
        assertEquals(axes.length, shape.length, tensor.name());
        for (int k = 0; k < axes.length; k++) {
            int size = switch (axes[k]) {
                case "B" -> 1;
                case "T" -> T;
                case "H" -> c.heads();
                case "D" -> c.headDim();
                case "C" -> c.hiddenSize();
                case "I" -> c.intermediateSize();
                default -> Integer.parseInt(axes[k]);
            };
            assertEquals(size, shape[k], tensor.name() + " axis " + axes[k]);
        }
    }

    private static TracedTensor named(List<TracedTensor> tensors, String name) {
        List<TracedTensor> found = tensors.stream().filter(t -> t.name().equals(name)).toList();
        assertEquals(1, found.size(), name);
        return found.getFirst();
    }

    private static int indexOf(List<TracedTensor> tensors, String name, int layer) {
        for (int k = 0; k < tensors.size(); k++) {
            if (tensors.get(k).name().equals(name) && tensors.get(k).layer() == layer) {
                return k;
            }
        }
        throw new AssertionError("no " + name + " in layer " + layer);
    }
}
