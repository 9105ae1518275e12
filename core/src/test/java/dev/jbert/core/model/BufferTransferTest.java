package dev.jbert.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jbert.core.io.FloatSource;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import dev.jbert.kernels.cpu.CpuBackend;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Tensors cross to and from the backend in chunks, and nothing depends on where the chunks fall. */
class BufferTransferTest {
    private final Backend backend = new CpuBackend(1, true);

    @AfterEach
    void close() {
        backend.close();
    }

    @Test
    void copiesInAndOutAcrossChunkBoundaries() {
        int length = 2 * FloatSource.CHUNK + 13;
        float[] values = new float[length];
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        Buffer whole = backend.allocateFloats(length + 10);
        Buffer target = whole.slice(7, length); // a slice, as the model's tensors are
        BufferTransfer.copyIn(backend, FloatSource.of(values), target);

        float[] back = new float[length];
        backend.copyOut(target, back);
        assertArrayEquals(values, back);
        float[] around = new float[length + 10];
        backend.copyOut(whole, around);
        assertEquals(0f, around[6], "nothing written before the slice");
        assertEquals(0f, around[7 + length], "nothing written after it");

        // read back in ranges that neither match the chunk nor divide the length, into a larger array
        FloatSource out = BufferTransfer.copyOut(backend, target);
        float[] range = new float[1000];
        for (int first = 0; first < length; first += 999) {
            int n = Math.min(999, length - first);
            out.read(first, range, n);
            assertArrayEquals(Arrays.copyOfRange(values, first, first + n), Arrays.copyOf(range, n), "from " + first);
        }
    }

    @Test
    void initialValuesDoNotDependOnHowTheyAreRead() {
        int vocab = 40, hidden = 3000; // 120,000 values: more than one chunk
        ParameterLayout.Tensor embeddings = new ParameterLayout.Tensor("bert.embeddings.word_embeddings.weight",
                new int[] {vocab, hidden}, 0, true);
        float[] whole = new float[vocab * hidden];
        ParameterInit.initialValues(embeddings, 0.02f, new SplittableRandom(42)).read(0, whole, whole.length);

        Buffer buffer = backend.allocateFloats(vocab * hidden);
        BufferTransfer.copyIn(backend, ParameterInit.initialValues(embeddings, 0.02f, new SplittableRandom(42)), buffer);
        float[] chunked = new float[vocab * hidden];
        backend.copyOut(buffer, chunked);

        assertArrayEquals(whole, chunked);
        assertArrayEquals(new float[hidden], Arrays.copyOf(whole, hidden), "[PAD] starts as a zero vector");
        double sumOfSquares = 0;
        for (int i = hidden; i < whole.length; i++) {
            sumOfSquares += whole[i] * whole[i];
        }
        assertEquals(0.02, Math.sqrt(sumOfSquares / (whole.length - hidden)), 0.001, "std of the other rows");
    }
}
