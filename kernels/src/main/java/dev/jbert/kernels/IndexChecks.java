package dev.jbert.kernels;

/**
 * The one range check for int inputs that index memory (embedding ids, cross-entropy targets).
 * Every backend runs it before the op writes anything, so a bad index is an exception that names
 * it, never a wild write or a half-updated table.
 */
public final class IndexChecks {
    private IndexChecks() {}

    /** Throws unless every {@code values[offset + r]}, {@code r < count}, lies in {@code [0, limit)}. */
    public static void checkRange(int[] values, int offset, int count, int limit, String what) {
        for (int r = 0; r < count; r++) {
            int value = values[offset + r];
            if (value < 0 || value >= limit) {
                throw new IndexOutOfBoundsException(what + " " + value + " at row " + r + " is outside [0, " + limit + ")");
            }
        }
    }
}
