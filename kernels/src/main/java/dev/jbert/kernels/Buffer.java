package dev.jbert.kernels;

/**
 * A handle to a block of a backend's memory: {@code length} floats or ints. The model never reads
 * a buffer directly; it asks its {@link Backend} to copy data in or out, so the same model code runs
 * whether the memory is a Java array or lives on a GPU.
 *
 * <p>A slice is a view of part of a buffer (no copy): the model keeps all its parameters in one
 * buffer and hands each layer a slice of it, so that AdamW and gradient clipping can run over every
 * parameter in one call.
 */
public interface Buffer {
    /** What the elements are. */
    enum Type {
        FLOAT32,
        INT32
    }

    Type type();

    /** Number of elements. */
    int length();

    /** A view of elements {@code [offset, offset + length)} of this buffer. */
    Buffer slice(int offset, int length);
}
