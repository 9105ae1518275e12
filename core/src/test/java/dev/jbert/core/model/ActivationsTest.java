package dev.jbert.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import dev.jbert.kernels.cpu.CpuBackend;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Activations' float buffers are slices of arenas: they must never overlap, in one arena or several,
 * except where a view is meant to reuse another's memory.
 */
class ActivationsTest {
    private final BertConfig config = BertConfig.read(TinyQaFixture.DIR.resolve("config.json"));

    @Test
    void buffersNeverOverlapInOneArenaOrMany() {
        try (Backend backend = new CpuBackend(1, true)) {
            // the tiny model's largest buffer at 3 x 13 is 3744 floats, so a cap of 4096 forces many arenas
            for (long cap : new long[] {1L << 30, 4096}) {
                Activations activations = new Activations(backend, config, 3, 13, 1, cap);
                assertEquals(cap == 4096, activations.arenaCount() > 1, "arenas: " + activations.arenaCount());
                Activations.Views training = activations.shape(3, 13, true); // layer 0 now keeps its probabilities
                List<Buffer> all = new ArrayList<>(activations.buffers());
                all.add(training.layers().get(0).probs());
                assertOwnValues(backend, all);
                // re-sliced for a smaller batch, the views are still disjoint
                Activations.Views small = activations.shape(2, 7);
                assertOwnValues(backend, List.of(small.probs(), small.probsDropped(), small.dScores(), small.ffnGelu(),
                        small.dQkv(), small.dFfn(), small.layers().get(0).qkv(), small.layers().get(1).output(),
                        small.layers().get(0).probs()));
            }
        }
    }

    /** Only a training pass gets the kept probabilities' buffers; they stay for every later shape. */
    @Test
    void onlyTrainingKeepsAttentionProbabilities() {
        try (Backend backend = new CpuBackend(1, true)) {
            Activations activations = new Activations(backend, config, 3, 13, 2, 1L << 30);
            assertNull(activations.shape(3, 13).layers().get(0).probs(), "an evaluation keeps none");
            Activations.Views training = activations.shape(3, 13, true);
            assertEquals(3 * 4 * 13 * 13, training.layers().get(1).probs().length());
            Activations.Views later = activations.shape(2, 7);
            assertEquals(2 * 4 * 7 * 7, later.layers().get(0).probs().length());
            assertNotSame(later.layers().get(0).probs(), later.layers().get(1).probs());
        }
    }

    /**
     * Layers keep their attention probabilities within a 32nd of the backend's memory; the last layer
     * never needs a buffer of its own.
     */
    @Test
    void layersKeepTheirAttentionWithinAShareOfTheBackendsMemory() {
        BertConfig base = BertConfig.bertBase();
        long perLayer = 4L * 8 * 12 * 384 * 384; // bert-base at batch 8 x 384: 57 MB
        assertEquals(0, Activations.keptAttentionLayers(withMemory(32 * perLayer - 1), base, 8, 384));
        assertEquals(1, Activations.keptAttentionLayers(withMemory(32 * perLayer), base, 8, 384));
        assertEquals(10, Activations.keptAttentionLayers(withMemory(18L << 30), base, 8, 384));
        assertEquals(11, Activations.keptAttentionLayers(withMemory(141L << 30), base, 32, 384));
        assertEquals(11, Activations.keptAttentionLayers(withMemory(Long.MAX_VALUE), base, 8, 384));
    }

    /** A backend that only answers how much memory it has. */
    private static Backend withMemory(long bytes) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    if (!method.getName().equals("memoryCapacity")) {
                        throw new UnsupportedOperationException(method.getName());
                    }
                    return bytes;
                });
    }

    /** Fills float buffer k with k, then checks that each still holds only its own k. */
    private static void assertOwnValues(Backend backend, List<Buffer> buffers) {
        List<Buffer> floats = buffers.stream().filter(b -> b.type() == Buffer.Type.FLOAT32).toList();
        assertTrue(floats.size() > 5);
        for (int k = 0; k < floats.size(); k++) {
            backend.fill(floats.get(k), k);
        }
        for (int k = 0; k < floats.size(); k++) {
            float[] values = new float[floats.get(k).length()];
            backend.copyOut(floats.get(k), values);
            for (int i = 0; i < values.length; i++) {
                assertEquals(k, values[i], "buffer " + k + " at " + i + " was written through another buffer");
            }
        }
    }
}
