// LayerNorm forward and backward, and the column sums that give the gradients of gamma and beta.
// Rows are independent: one warp per row, each lane striding over the columns.
// Column sums are deterministic: each block sums a chunk of rows, and column_finish adds the chunks'
// partial sums in order (no atomics, so every run gives the same bits).

__device__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, offset);
    }
    return v;
}

// y [rows, cols] = (x - mean) * rstd * gamma + beta; saves mean [rows] and rstd [rows].
// Block: 32 x W threads, one warp per row. Mean first, then the variance of the centred values
// (two passes over the row, which stays in L1, rather than the cancellation-prone E[x^2] - mean^2).
extern "C" __global__ void layer_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                                              float* mean, float* rstd, int rows, int cols, float eps) {
    int row = blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) {
        return;
    }
    const float* xr = x + (long long) row * cols;
    float sum = 0;
    for (int c = threadIdx.x; c < cols; c += 32) {
        sum += xr[c];
    }
    float mu = warp_sum(sum) / cols;
    float squares = 0;
    for (int c = threadIdx.x; c < cols; c += 32) {
        float centred = xr[c] - mu;
        squares += centred * centred;
    }
    float s = rsqrtf(warp_sum(squares) / cols + eps);
    float* yr = y + (long long) row * cols;
    for (int c = threadIdx.x; c < cols; c += 32) {
        yr[c] = (xr[c] - mu) * s * gamma[c] + beta[c];
    }
    if (threadIdx.x == 0) {
        mean[row] = mu;
        rstd[row] = s;
    }
}

// Rows of at most FUSED_COLUMNS (BERT-large's 1024) take the fused backward below; wider ones the
// two kernels after it.
#define FUSED_COLUMNS 1024
#define COLUMNS_PER_LANE (FUSED_COLUMNS / 32)
#define FUSED_WARPS 4
#define FUSED_ROWS_PER_CHUNK 64

// The LayerNorm backward in one pass over dy and x: dx as layer_norm_backward below, and the chunk's
// partial column sums of dy (for dBeta) and dy * xhat (for dGamma) into partialDy, partialDyXhat
// [chunks, cols]. Block b (FUSED_WARPS warps) takes rows [64 b, 64 b + 64); warp w its rows w, w + 4, ...
// Each lane holds its columns lane + 32 i of the row (dy, xhat) and of the running sums in registers,
// so dy and x are read once, where the two-kernel path reads them twice. dx may alias dy.
extern "C" __global__ void __launch_bounds__(FUSED_WARPS * 32)
layer_norm_backward_fused(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                          float* dx, float* partialDy, float* partialDyXhat, int rows, int cols) {
    __shared__ float sums[2][FUSED_WARPS][FUSED_COLUMNS];
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int first = blockIdx.x * FUSED_ROWS_PER_CHUNK, end = min(rows, first + FUSED_ROWS_PER_CHUNK);
    float sumDy[COLUMNS_PER_LANE], sumDyXhat[COLUMNS_PER_LANE];
#pragma unroll
    for (int i = 0; i < COLUMNS_PER_LANE; i++) {
        sumDy[i] = 0;
        sumDyXhat[i] = 0;
    }
    for (int row = first + warp; row < end; row += FUSED_WARPS) {
        long long base = (long long) row * cols;
        float mu = mean[row], s = rstd[row];
        float d[COLUMNS_PER_LANE], xhat[COLUMNS_PER_LANE];
        float sumG = 0, sumGXhat = 0;
#pragma unroll
        for (int i = 0; i < COLUMNS_PER_LANE; i++) {
            int c = lane + 32 * i;
            d[i] = c < cols ? dy[base + c] : 0.0f;
            xhat[i] = c < cols ? (x[base + c] - mu) * s : 0.0f;
            float g = c < cols ? d[i] * gamma[c] : 0.0f;
            sumG += g;
            sumGXhat += g * xhat[i];
            sumDy[i] += d[i];
            sumDyXhat[i] += d[i] * xhat[i];
        }
        float meanG = warp_sum(sumG) / cols;
        float meanGXhat = warp_sum(sumGXhat) / cols;
#pragma unroll
        for (int i = 0; i < COLUMNS_PER_LANE; i++) {
            int c = lane + 32 * i;
            if (c < cols) {
                dx[base + c] = s * (d[i] * gamma[c] - meanG - xhat[i] * meanGXhat);
            }
        }
    }
#pragma unroll
    for (int i = 0; i < COLUMNS_PER_LANE; i++) {
        int c = lane + 32 * i;
        if (c < cols) {
            sums[0][warp][c] = sumDy[i];
            sums[1][warp][c] = sumDyXhat[i];
        }
    }
    __syncthreads();
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float a = 0, b = 0;
        for (int w = 0; w < FUSED_WARPS; w++) { // in warp order: the same bits every run
            a += sums[0][w][c];
            b += sums[1][w][c];
        }
        partialDy[(long long) blockIdx.x * cols + c] = a;
        partialDyXhat[(long long) blockIdx.x * cols + c] = b;
    }
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma, xhat = (x - mean) * rstd.
// Overwrites dx; the parameter gradients come from column_partials. One warp per row, for rows wider
// than FUSED_COLUMNS.
extern "C" __global__ void layer_norm_backward(const float* dy, const float* x, const float* gamma,
                                               const float* mean, const float* rstd, float* dx, int rows, int cols) {
    int row = blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) {
        return;
    }
    long long base = (long long) row * cols;
    float mu = mean[row];
    float s = rstd[row];
    float sumG = 0;
    float sumGXhat = 0;
    for (int c = threadIdx.x; c < cols; c += 32) {
        float g = dy[base + c] * gamma[c];
        sumG += g;
        sumGXhat += g * (x[base + c] - mu) * s;
    }
    float meanG = warp_sum(sumG) / cols;
    float meanGXhat = warp_sum(sumGXhat) / cols;
    for (int c = threadIdx.x; c < cols; c += 32) {
        float g = dy[base + c] * gamma[c];
        float xhat = (x[base + c] - mu) * s;
        dx[base + c] = s * (g - meanG - xhat * meanGXhat);
    }
}

// Partial column sums over one chunk of rows, for LayerNorm's dBeta and dGamma: block (32, 32) covers
// columns [32 bx, 32 bx + 32) and rows [chunk * rowsPerChunk, ...). Writes sumDy [chunk, cols] = sum of
// dy and sumDyXhat [chunk, cols] = sum of dy * (x - mean) * rstd.
extern "C" __global__ void column_partials(const float* dy, const float* x, const float* mean, const float* rstd,
                                           float* sumDy, float* sumDyXhat, int rows, int cols, int rowsPerChunk) {
    __shared__ float shared[2][32][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    int chunk = blockIdx.y;
    int end = min(rows, (chunk + 1) * rowsPerChunk);
    float a = 0;
    float b = 0;
    if (c < cols) {
        for (int r = chunk * rowsPerChunk + threadIdx.y; r < end; r += 32) {
            float g = dy[(long long) r * cols + c];
            a += g;
            b += g * (x[(long long) r * cols + c] - mean[r]) * rstd[r];
        }
    }
    shared[0][threadIdx.y][threadIdx.x] = a;
    shared[1][threadIdx.y][threadIdx.x] = b;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        float totalA = 0;
        float totalB = 0;
        for (int i = 0; i < 32; i++) {
            totalA += shared[0][i][threadIdx.x];
            totalB += shared[1][i][threadIdx.x];
        }
        sumDy[(long long) chunk * cols + c] = totalA;
        sumDyXhat[(long long) chunk * cols + c] = totalB;
    }
}

// out [cols] += sum over chunks of partial [chunks, cols], chunk by chunk in order.
extern "C" __global__ void column_finish(const float* partial, float* out, int chunks, int cols) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) {
        return;
    }
    float total = 0;
    for (int chunk = 0; chunk < chunks; chunk++) {
        total += partial[(long long) chunk * cols + c];
    }
    out[c] += total;
}
