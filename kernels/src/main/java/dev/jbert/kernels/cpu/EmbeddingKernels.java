package dev.jbert.kernels.cpu;

/** Embedding gather (forward) and scatter-add (backward). */
final class EmbeddingKernels {
    private final Parallel parallel;
    private final Simd simd;

    EmbeddingKernels(Parallel parallel, Simd simd) {
        this.parallel = parallel;
        this.simd = simd;
    }

    /** out [rows, dim] (+)= table [vocab, dim] at ids [rows]; the ids were checked by the caller. */
    void forward(CpuBuffer ids, CpuBuffer table, CpuBuffer out, int rows, int dim, boolean accumulate) {
        float[] ts = table.floats;
        float[] os = out.floats;
        parallel.parallelForRanges(rows, 16, (first, last) -> {
            for (int r = first; r < last; r++) {
                int id = ids.ints[ids.offset + r];
                int from = table.offset + id * dim;
                int to = out.offset + r * dim;
                if (!accumulate) {
                    System.arraycopy(ts, from, os, to, dim);
                    continue;
                }
                simd.addInto(ts, from, os, to, dim);
            }
        });
    }

    /**
     * dTable [vocab, dim] at ids[r] += dOut [rows, dim]. Two rows may share an id, so the tasks
     * split the columns instead of the rows: no two threads ever write the same element, and
     * every element's sum runs in row order.
     */
    void backward(CpuBuffer ids, CpuBuffer dOut, CpuBuffer dTable, int rows, int dim) {
        float[] ds = dOut.floats;
        float[] ts = dTable.floats;
        int columnsPerTask = 4 * Simd.LANES;
        parallel.parallelForRanges(dim, columnsPerTask, (first, last) -> {
            for (int r = 0; r < rows; r++) {
                int from = dOut.offset + r * dim;
                int to = dTable.offset + ids.ints[ids.offset + r] * dim;
                simd.addInto(ds, from + first, ts, to + first, last - first);
            }
        });
    }
}
