package dev.jbert.kernels;

/**
 * The argument checks every backend runs before an op touches memory, so that a wrong buffer or a
 * bad index is an exception naming it, never a wild write or a half-updated table.
 */
public final class ArgumentChecks {
    private ArgumentChecks() {}

    /** Throws unless {@code buffer} holds {@code type} and, when {@code length >= 0}, exactly {@code length} elements. */
    public static void typeAndLength(Buffer buffer, Buffer.Type type, int length, String name) {
        if (buffer.type() != type) {
            throw new IllegalArgumentException(name + " holds " + buffer.type() + ", expected " + type);
        }
        if (length >= 0 && buffer.length() != length) {
            throw new IllegalArgumentException(name + " has " + buffer.length() + " elements, expected " + length);
        }
    }

    /** The operands of {@link Backend#gemmBatched(boolean, boolean, int, int, int, float, Buffer, MatrixLayout, Buffer, MatrixLayout, float, Buffer, MatrixLayout, int)}. */
    public static void batchedGemm(boolean transA, boolean transB, int m, int n, int k, Buffer a, MatrixLayout aLayout,
                                   Buffer b, MatrixLayout bLayout, Buffer c, MatrixLayout cLayout, int batch) {
        matrices(a, aLayout, batch, transA ? k : m, transA ? m : k, "a");
        matrices(b, bLayout, batch, transB ? n : k, transB ? k : n, "b");
        matrices(c, cLayout, batch, m, n, "c");
    }

    /**
     * Throws unless {@code buffer} holds floats and every matrix of a batch of {@code batch}
     * {@code [rows, cols]} matrices laid out by {@code layout} lies inside it, rows not overlapping.
     */
    private static void matrices(Buffer buffer, MatrixLayout layout, int batch, int rows, int cols, String name) {
        typeAndLength(buffer, Buffer.Type.FLOAT32, -1, name);
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        }
        if (rows > 1 && layout.rowStride() < cols) {
            throw new IllegalArgumentException(name + ": rows of " + cols + " elements cannot be " + layout.rowStride() + " apart");
        }
        long end = layout.end(batch, rows, cols);
        if (end > buffer.length()) {
            throw new IllegalArgumentException(name + " has " + buffer.length() + " elements, its " + batch + " matrices of ["
                    + rows + ", " + cols + "] laid out as " + layout + " reach " + end);
        }
    }

    /**
     * The range check for int inputs that index memory (embedding ids, cross-entropy targets): throws
     * unless every {@code values[offset + r]}, {@code r < count}, lies in {@code [0, limit)}.
     */
    public static void checkRange(int[] values, int offset, int count, int limit, String what) {
        for (int r = 0; r < count; r++) {
            int value = values[offset + r];
            if (value < 0 || value >= limit) {
                throw new IndexOutOfBoundsException(what + " " + value + " at row " + r + " is outside [0, " + limit + ")");
            }
        }
    }
}
