// AdamW, the global gradient norm and clipping. The norm is a deterministic two-stage sum in double:
// a fixed grid of blocks writes one partial each, then one block adds the partials in a fixed tree.

// One fused AdamW step (PyTorch's order). decay = 1 - lr * weightDecay; stepSize = lr / (1 - beta1^t);
// inverseRootCorrection = 1 / sqrt(1 - beta2^t): computed once on the host, in double, as the CPU does.
extern "C" __global__ void adamw(float* params, const float* grads, float* m, float* v, long long n, float beta1,
                                 float beta2, float eps, float decay, float stepSize, float inverseRootCorrection) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        float g = grads[i];
        float mi = m[i] * beta1 + g * (1 - beta1);
        float vi = v[i] * beta2 + g * g * (1 - beta2);
        float denominator = sqrtf(vi) * inverseRootCorrection + eps;
        params[i] = params[i] * decay - mi / denominator * stepSize;
        m[i] = mi;
        v[i] = vi;
    }
}

// The sum of every thread's value over a block of 256, in a fixed tree (the same bits every run);
// every thread gets the result.
__device__ double block_sum(double value) {
    __shared__ double shared[256];
    shared[threadIdx.x] = value;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half >>= 1) {
        if (threadIdx.x < half) {
            shared[threadIdx.x] += shared[threadIdx.x + half];
        }
        __syncthreads();
    }
    return shared[0];
}

// Stage 1: partials [gridDim.x] = each block's sum of x^2, in double. Block size 256.
extern "C" __global__ void sum_of_squares_partials(const float* x, long long n, double* partials) {
    double sum = 0;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        double value = x[i];
        sum += value * value;
    }
    double total = block_sum(sum);
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = total;
    }
}

// Stage 2, one block of 256: result[0] = the sum of partials [count].
extern "C" __global__ void sum_of_squares_finish(const double* partials, int count, float* result) {
    double sum = 0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) {
        sum += partials[i];
    }
    double total = block_sum(sum);
    if (threadIdx.x == 0) {
        result[0] = (float) total;
    }
}

// x *= maxNorm / (norm + 1e-6) when that is below 1, norm = sqrt(sumOfSquares[0]), read on the device.
extern "C" __global__ void clip_by_global_norm(float* x, long long n, const float* sumOfSquares, float maxNorm) {
    float factor = maxNorm / (sqrtf(sumOfSquares[0]) + 1e-6f);
    if (!(factor < 1.0f)) {
        return;
    }
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        x[i] *= factor;
    }
}
