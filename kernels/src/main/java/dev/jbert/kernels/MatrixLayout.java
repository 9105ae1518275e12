package dev.jbert.kernels;

/**
 * Where the matrices of a batched GEMM lie in one operand's buffer. Each is stored row by row, its
 * rows {@code rowStride} elements apart, and matrix {@code z} starts at element
 * {@code (z / perGroup) * groupStride + (z % perGroup) * memberStride}: the batch is groups of
 * {@code perGroup} matrices.
 *
 * <p>Why two levels: attention's heads. Q, K and V come out of one projection as {@code [B, T, 3, H, D]},
 * and the query of (sequence b, head h) is the {@code [T, D]} matrix at {@code b T 3C + h D}, its rows
 * {@code 3C} apart: groups of H heads, one group per sequence. The products read and write the heads
 * there, in place, instead of first moving them into {@code [B, H, T, D]} and back.
 *
 * @param rowStride    elements between consecutive rows of a matrix (at least its row length)
 * @param perGroup     matrices per group (1: every matrix is its own group)
 * @param groupStride  elements between the first matrices of consecutive groups
 * @param memberStride elements between consecutive matrices of a group
 */
public record MatrixLayout(int rowStride, int perGroup, int groupStride, int memberStride) {
    public MatrixLayout {
        if (rowStride < 0 || perGroup < 1 || groupStride < 0 || memberStride < 0) {
            throw new IllegalArgumentException("bad matrix layout: " + this);
        }
    }

    /** Consecutive, densely stored {@code [rows, cols]} matrices: matrix z at {@code z rows cols}. */
    public static MatrixLayout dense(int rows, int cols) {
        return new MatrixLayout(cols, 1, rows * cols, 0);
    }

    /** Where matrix {@code z} starts. */
    public long start(int z) {
        return (long) (z / perGroup) * groupStride + (long) (z % perGroup) * memberStride;
    }

    /**
     * One past the last element that {@code batch} matrices of {@code [rows, cols]} reach; 0 when
     * they are empty. Starts grow with the member within a group and with the group for a member,
     * so the furthest matrix is the last one, or the last member of the group before it.
     */
    public long end(int batch, int rows, int cols) {
        if (batch == 0 || rows == 0 || cols == 0) {
            return 0;
        }
        long furthest = start(batch - 1);
        if (batch > perGroup) {
            furthest = Math.max(furthest, start(((batch - 1) / perGroup) * perGroup - 1));
        }
        return furthest + (long) (rows - 1) * rowStride + cols;
    }
}
