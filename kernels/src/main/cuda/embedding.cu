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

// dTable [ids[r], :] += dOut [r, :]. Rows that share an id add into the same place, so this uses
// atomics: the sums are exact up to float rounding, but their order (and so the last bits) can
// vary from run to run.
extern "C" __global__ void embedding_backward(const int* ids, const float* dOut, float* dTable, int rows, int dim) {
    long long n = (long long) rows * dim;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        int r = (int) (i / dim);
        atomicAdd(&dTable[(long long) ids[r] * dim + i % dim], dOut[i]);
    }
}
