package dev.jbert.core.io;

/**
 * A run of floats read a range at a time, so that a large tensor can travel between a file, a
 * generator and a backend through one small buffer instead of an array of its own size.
 *
 * <p>why: bert-base's tensors are up to 94 MB. As whole arrays, each one is a G1 "humongous"
 * object of whole regions that nothing reclaims until the next collection; loading a model or
 * writing a checkpoint that way raised the process's peak RSS by the size of the model (or, for a
 * checkpoint, of the model and AdamW's two moments: 1.3 GB).
 */
@FunctionalInterface
public interface FloatSource {
    /**
     * Floats a reader asks for at a time, and the size of its buffer (256 KB): below G1's humongous
     * threshold for every region size.
     */
    int CHUNK = 1 << 16;

    /**
     * Writes elements {@code [first, first + count)} into {@code into[0 .. count)}, where
     * {@code count <= into.length}. Callers read in order; a generated source relies on that.
     */
    void read(long first, float[] into, int count);

    /** The elements of an array already in memory. */
    static FloatSource of(float[] values) {
        return (first, into, count) -> System.arraycopy(values, Math.toIntExact(first), into, 0, count);
    }
}
