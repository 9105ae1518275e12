package dev.jbert.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import dev.jbert.kernels.cpu.CpuBackend;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The tap in BertQa: it changes nothing, and it shows reused scratch buffers while they hold each layer's values. */
class ActivationObserverTest {
    private Backend backend;
    private BertQa model;
    private Batch batch;

    /** One observed tensor, its values copied out at the moment of the call. */
    record Seen(String name, int layer, float[] values, int[] shape) {}

    @BeforeEach
    void load() throws IOException {
        backend = new CpuBackend(2, true);
        model = ModelDirectory.load(TinyQaFixture.DIR, backend, 3, 13, 0).model();
        batch = ModelParityTest.readBatch(TinyQaFixture.DIR.resolve("batch.json"));
    }

    @AfterEach
    void close() {
        backend.close();
    }

    private List<Seen> observe(Runnable pass) {
        List<Seen> seen = new ArrayList<>();
        model.observe((name, layer, values, shape, axes) -> {
            float[] copy = new float[values.length()];
            backend.copyOut(values, copy);
            seen.add(new Seen(name, layer, copy, shape));
        });
        pass.run();
        model.observe(null);
        return seen;
    }

    private float[] read(Buffer buffer) {
        float[] values = new float[buffer.length()];
        backend.copyOut(buffer, values);
        return values;
    }

    private static Seen find(List<Seen> seen, String name, int layer) {
        return seen.stream().filter(s -> s.name().equals(name) && s.layer() == layer).findFirst().orElseThrow(
                () -> new AssertionError("no " + name + " in layer " + layer));
    }

    /**
     * Watched, the model runs the separate ops (whose intermediate tensors the observer sees) where an
     * unwatched pass may run fused ones: the attention in evaluation, and with dropout on (a training
     * pass) in the forward and the backward. Either way, the same bits.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void anObserverChangesNoBit(boolean dropoutOn) {
        Dropout dropout = dropoutOn ? new Dropout(7, 3) : null;
        model.zeroGradients();
        float plainLoss = model.forward(batch, dropout);
        float[] start = model.startLogits(), end = model.endLogits();
        model.backward(1);
        float[] plainGradients = read(model.gradients().all());

        model.zeroGradients();
        float[] loss = new float[1];
        List<Seen> seen = observe(() -> {
            loss[0] = model.forward(batch, dropout);
            model.backward(1);
        });
        assertTrue(seen.size() > 100, "the observer saw " + seen.size() + " tensors");
        assertEquals(Float.floatToIntBits(plainLoss), Float.floatToIntBits(loss[0]));
        assertArrayEquals(start, model.startLogits());
        assertArrayEquals(end, model.endLogits());
        assertArrayEquals(plainGradients, read(model.gradients().all()));
    }

    @Test
    void everyShapeCoversItsBufferAndUsesTheBatchShape() {
        List<Seen> seen = observe(() -> model.forward(batch, null));
        for (Seen s : seen) {
            assertEquals(s.values().length, Arrays.stream(s.shape()).reduce(1, Math::multiplyExact), s.name());
        }
        // B 3, H 4, T 13, D 8, C 32, I 37
        assertArrayEquals(new int[] {3, 4, 13, 13}, find(seen, "probs", 1).shape());
        assertArrayEquals(new int[] {3, 13, 37}, find(seen, "ffnGelu", 0).shape());
        assertArrayEquals(new int[] {3, 13, 3, 4, 8}, find(seen, "qkv", 1).shape());
    }

    @Test
    void scratchIsShownWhileItHoldsEachLayersValues() {
        List<Seen> seen = observe(() -> model.forward(batch, null));
        Activations.Views views = model.views();
        // attentionSum = dense + the layer's input, element for element in float: dense as layer 0 left it
        float[] dense0 = find(seen, "dense (attention)", 0).values();
        float[] input0 = find(seen, "embeddingOutput", -1).values();
        float[] sum0 = read(views.layers().get(0).attentionSum());
        for (int k = 0; k < sum0.length; k++) {
            assertEquals(sum0[k], dense0[k] + input0[k], 0f, "attentionSum[" + k + "]");
        }
        // after the forward, the shared dense buffer holds the last layer's FFN output only
        float[] denseAfter = read(views.dense());
        assertArrayEquals(denseAfter, find(seen, "dense (ffn)", 1).values());
        assertFalse(Arrays.equals(denseAfter, find(seen, "dense (ffn)", 0).values()));
        // and a stored activation is shown with the values it keeps
        assertArrayEquals(read(views.layers().get(1).ffnPre()), find(seen, "ffnPre", 1).values());
    }

    /**
     * The backward takes each layer's attention probabilities from one of three places: the layer's
     * own buffer (kept), the shared scratch (the last layer's, left there by the forward), or a
     * recomputation from Q and K. All three must give the forward's values, and the same gradients bit
     * for bit, whatever number of layers keep theirs (the tiny model has two).
     */
    @Test
    void keptOrRecomputedTheBackwardUsesTheForwardsProbabilities() {
        float[] firstGradients = null;
        for (int kept = 0; kept <= 2; kept++) {
            BertQa variant = new BertQa(backend, model.config(), 3, 13, kept);
            backend.copy(model.parameters().all(), variant.parameters().all());
            model = variant; // observe() watches this one
            List<Seen> seen = observe(() -> {
                variant.zeroGradients();
                variant.forward(batch, new Dropout(7, 3));
                variant.backward(1);
            });
            for (int layer = 0; layer < 2; layer++) {
                int l = layer;
                boolean recomputed = layer >= kept && layer < 1; // neither kept nor the last layer
                List<Seen> again = seen.stream().filter(s -> s.name().equals("probs (recomputed)") && s.layer() == l).toList();
                assertEquals(recomputed ? 1 : 0, again.size(), "recomputations of layer " + layer + " keeping " + kept);
                float[] probs = find(seen, "probs", layer).values();
                if (recomputed) {
                    assertArrayEquals(probs, again.getFirst().values(), "probs of layer " + layer);
                    assertArrayEquals(find(seen, "ffnGelu", layer).values(), find(seen, "ffnGelu (recomputed)", layer).values(),
                            "ffnGelu of layer " + layer);
                }
                // dropped with the same mask: by the forward, and again by the backward
                List<Seen> dropped = seen.stream().filter(s -> s.name().equals("probsDropped") && s.layer() == l).toList();
                assertEquals(2, dropped.size(), "probsDropped of layer " + layer + " keeping " + kept);
                assertArrayEquals(dropped.getFirst().values(), dropped.getLast().values(), "probsDropped of layer " + layer);
                assertFalse(Arrays.equals(probs, find(seen, "probs", 1 - layer).values()), "the layers differ");
            }
            float[] gradients = read(variant.gradients().all());
            if (firstGradients == null) {
                firstGradients = gradients;
            } else {
                assertArrayEquals(firstGradients, gradients, "gradients keeping the attention of " + kept + " layers");
            }
        }
    }

    /**
     * An evaluation forward writes its probabilities to the shared scratch, not to the buffers a
     * training pass keeps; a backward after it must use its own probabilities, not the stale ones.
     */
    @Test
    void aBackwardAfterAnEvaluationUsesThatEvaluationsProbabilities() {
        BertQa trained = new BertQa(backend, model.config(), 3, 13, 2);
        BertQa fresh = new BertQa(backend, model.config(), 3, 13, 2);
        backend.copy(model.parameters().all(), trained.parameters().all());
        backend.copy(model.parameters().all(), fresh.parameters().all());
        trained.forward(batch, new Dropout(7, 3)); // fills the kept buffers
        trained.forward(batch, null);
        trained.zeroGradients();
        trained.backward(1);
        fresh.forward(batch, null);
        fresh.zeroGradients();
        fresh.backward(1);
        assertArrayEquals(read(fresh.gradients().all()), read(trained.gradients().all()));
    }
}
