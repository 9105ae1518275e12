package dev.jbert.core.io;

/** Shapes of tensors in files. */
public final class Shapes {
    private Shapes() {}

    /** The number of elements of a tensor of this shape, or -1 when it does not fit in a long. */
    public static long elements(long[] shape) {
        long count = 1;
        try {
            for (long dim : shape) {
                count = Math.multiplyExact(count, dim);
            }
        } catch (ArithmeticException overflow) {
            return -1;
        }
        return count;
    }
}
