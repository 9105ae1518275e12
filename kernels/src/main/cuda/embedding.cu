// Embedding gather and its scatter-add backward. ids [rows] were range-checked on the host.

// out [rows, dim] = table [ids[r], :], or += when accumulate != 0
extern "C" __global__ void embedding_forward(const int* ids, const float* table, float* out, int rows, int dim,
                                             int accumulate) {
    long long n = (long long) rows * dim;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        int r = (int) (i / dim);
        float value = table[(long long) ids[r] * dim + i % dim];
        out[i] = accumulate ? out[i] + value : value;
    }
}

// dTable [ids[r], :] += dOut [r, :] for every row r, without atomics, so the sums are the same bit
// for bit on every run (and equal to the CPU backend's, which adds the rows in the same order).
// The host sorted the rows by id: segment s is rows order[starts[s]] .. order[starts[s + 1] - 1], in
// ascending order, all with the id segmentIds[s]. One thread owns one (segment, column) element of
// dTable and adds that segment's rows into it one after another. Grid: x over columns, y over segments.
extern "C" __global__ void embedding_backward(const int* order, const int* starts, const int* segmentIds,
                                              const float* dOut, float* dTable, int segments, int dim) {
    int column = blockIdx.x * blockDim.x + threadIdx.x;
    if (column >= dim) {
        return;
    }
    for (int s = blockIdx.y; s < segments; s += gridDim.y) {
        float* target = dTable + (long long) segmentIds[s] * dim + column;
        float sum = *target;
        for (int k = starts[s]; k < starts[s + 1]; k++) {
            sum += dOut[(long long) order[k] * dim + column];
        }
        *target = sum;
    }
}
