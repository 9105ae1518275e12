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
// for bit on every run. The host sorted the rows by id: segment s is rows order[starts[s]] ..
// order[starts[s + 1] - 1], in ascending order, all with the id segmentIds[s]. A 32 x 8 block owns 32
// columns of one segment at a time: its 8 lanes (threadIdx.y) take the segment's rows in turn, and
// their partial sums are added to dTable in lane order, a fixed order. A segment of at most 8 rows is
// so added row by row in ascending order, as the CPU backend does; a longer one (a token type's
// thousands of rows) in 8 interleaved runs, which keeps the long sums from being one thread's work.
// Grid: x over groups of 32 columns, y over segments.
extern "C" __global__ void embedding_backward(const int* order, const int* starts, const int* segmentIds,
                                              const float* dOut, float* dTable, int segments, int dim) {
    __shared__ float partial[8][32];
    int column = blockIdx.x * 32 + threadIdx.x;
    for (int s = blockIdx.y; s < segments; s += gridDim.y) {
        float sum = 0;
        if (column < dim) {
            for (int k = starts[s] + threadIdx.y; k < starts[s + 1]; k += 8) {
                sum += dOut[(long long) order[k] * dim + column];
            }
        }
        partial[threadIdx.y][threadIdx.x] = sum;
        __syncthreads();
        if (threadIdx.y == 0 && column < dim) {
            float* target = dTable + (long long) segmentIds[s] * dim + column;
            float total = *target;
            for (int lane = 0; lane < 8; lane++) {
                total += partial[lane][threadIdx.x];
            }
            *target = total;
        }
        __syncthreads();
    }
}
