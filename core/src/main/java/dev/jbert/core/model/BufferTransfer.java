package dev.jbert.core.model;

import dev.jbert.core.io.FloatSource;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;

/**
 * Moves floats between the host and a backend buffer a chunk at a time (see {@link FloatSource}
 * for why not a whole array). Loading a model, initializing one and writing a checkpoint all go
 * through here.
 */
public final class BufferTransfer {
    private BufferTransfer() {}

    /** Fills {@code target} from {@code source}, in order, a chunk at a time. */
    public static void copyIn(Backend backend, FloatSource source, Buffer target) {
        float[] staging = new float[Math.min(FloatSource.CHUNK, target.length())];
        for (int first = 0; first < target.length(); first += FloatSource.CHUNK) {
            int n = Math.min(FloatSource.CHUNK, target.length() - first);
            float[] chunk = n == staging.length ? staging : new float[n]; // the copy needs equal lengths
            source.read(first, chunk, n);
            backend.copyIn(chunk, target.slice(first, n));
        }
    }

    /** {@code source}'s contents, read from the backend a range at a time as the reader asks. */
    public static FloatSource copyOut(Backend backend, Buffer source) {
        return (first, into, count) -> {
            Buffer range = source.slice(Math.toIntExact(first), count);
            if (count == into.length) {
                backend.copyOut(range, into);
            } else {
                float[] exact = new float[count]; // the copy needs equal lengths
                backend.copyOut(range, exact);
                System.arraycopy(exact, 0, into, 0, count);
            }
        };
    }
}
