package dev.jbert.kernels.cpu;

import dev.jbert.kernels.Buffer;

/**
 * A CPU buffer: a Java array and the window {@code [offset, offset + length)} of it that this
 * handle (or slice) covers. Exactly one of {@code floats} and {@code ints} is set.
 */
final class CpuBuffer implements Buffer {
    final float[] floats;
    final int[] ints;
    final int offset;
    private final int length;

    private CpuBuffer(float[] floats, int[] ints, int offset, int length) {
        this.floats = floats;
        this.ints = ints;
        this.offset = offset;
        this.length = length;
    }

    static CpuBuffer ofFloats(int length) {
        return new CpuBuffer(new float[length], null, 0, length);
    }

    static CpuBuffer ofInts(int length) {
        return new CpuBuffer(null, new int[length], 0, length);
    }

    @Override
    public Type type() {
        return floats != null ? Type.FLOAT32 : Type.INT32;
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public CpuBuffer slice(int sliceOffset, int sliceLength) {
        if (sliceOffset < 0 || sliceLength < 0 || sliceOffset > length - sliceLength) {
            throw new IndexOutOfBoundsException("slice [" + sliceOffset + ", +" + sliceLength
                    + ") of a buffer of " + length);
        }
        return new CpuBuffer(floats, ints, offset + sliceOffset, sliceLength);
    }

    @Override
    public String toString() {
        return "CpuBuffer[" + type() + " x " + length + " at " + offset + "]";
    }
}
