// The attention softmax (scale and padding mask fused in) and the softmax cross-entropy of the QA
// head, forward and backward. One warp per row, lanes striding over the row. The attention kernels
// whose outputs feed a matrix product come twice: writing floats, and writing bfloat16 (the `_bf16`
// kernels, for the CUDA backend's bf16 attention, whose products read bf16), instantiated from one template.

#include <cuda_bf16.h>
#include "philox.cuh"

__device__ __forceinline__ void store(float* to, long long i, float value) {
    to[i] = value;
}

__device__ __forceinline__ void store(__nv_bfloat16* to, long long i, float value) {
    to[i] = __float2bfloat16_rn(value);
}

__device__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    }
    return v;
}

__device__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, offset);
    }
    return v;
}

// scores, probs [batch, heads, tokens, tokens]; mask [batch, tokens] (1 = real key). A row is
// softmax(scale * scores) over its real keys; padded keys get 0. probs may alias scores (float probs).
template <typename Probs>
__device__ void softmax_forward(const float* scores, const int* mask, Probs* probs, int rows, int heads, int tokens,
                                float scale) {
    int row = blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) {
        return;
    }
    const int* m = mask + (long long) (row / (heads * tokens)) * tokens;
    long long base = (long long) row * tokens;
    float max = -INFINITY;
    for (int k = threadIdx.x; k < tokens; k += 32) {
        if (m[k] != 0) {
            max = fmaxf(max, scale * scores[base + k]);
        }
    }
    max = warp_max(max);
    float sum = 0;
    for (int k = threadIdx.x; k < tokens; k += 32) {
        sum += m[k] != 0 ? expf(scale * scores[base + k] - max) : 0.0f;
    }
    sum = warp_sum(sum);
    float inverse = sum > 0 ? 1.0f / sum : 0.0f; // a row with every key masked stays zero
    for (int k = threadIdx.x; k < tokens; k += 32) {
        store(probs, base + k, m[k] != 0 ? expf(scale * scores[base + k] - max) * inverse : 0.0f);
    }
}

extern "C" __global__ void attention_softmax_forward(const float* scores, const int* mask, float* probs,
                                                     int rows, int heads, int tokens, float scale) {
    softmax_forward(scores, mask, probs, rows, heads, tokens, scale);
}

extern "C" __global__ void attention_softmax_forward_bf16(const float* scores, const int* mask, __nv_bfloat16* probs,
                                                          int rows, int heads, int tokens, float scale) {
    softmax_forward(scores, mask, probs, rows, heads, tokens, scale);
}

// The kernels that also draw the attention dropout's mask hold a row in registers: rows of at most
// MAX_TOKENS (BERT's 512 positions), which span at most 4 MAX_PASSES tiles of 32 wherever they start,
// 8 lanes to a tile (the Philox blocks' layout, see philox.cuh); the host runs longer rows as separate ops.
#define MAX_TOKENS 512
#define MAX_PASSES 5

// The attention softmax and its dropout in one pass: probs = attention_softmax_forward's up to rounding
// (the row sum is added in another order) and probsDropped = dropout(probs). One warp per row, the
// row's scaled scores held in registers. probs may alias scores.
template <typename Dropped>
__device__ void softmax_dropout_forward(const float* scores, const int* mask, float* probs, Dropped* probsDropped,
                                        int rows, int heads, int tokens, float scale, unsigned int threshold,
                                        float keepScale, unsigned long long seed, unsigned long long stream) {
    int row = blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) {
        return;
    }
    const int* m = mask + (long long) (row / (heads * tokens)) * tokens;
    long long first = (long long) row * tokens;
    long long end = first + tokens;
    int j = threadIdx.x % 8;
    long long firstTile = first / 32 + threadIdx.x / 8;
    float e[MAX_PASSES][4]; // scale * score, then its exponential
    float max = -INFINITY;
#pragma unroll
    for (int pass = 0; pass < MAX_PASSES; pass++) {
#pragma unroll
        for (int w = 0; w < 4; w++) {
            long long i = (firstTile + 4 * pass) * 32 + j + 8 * w;
            bool real = i >= first && i < end && m[i - first] != 0;
            e[pass][w] = real ? scale * scores[i] : -INFINITY;
            max = fmaxf(max, e[pass][w]);
        }
    }
    max = warp_max(max);
    float sum = 0;
#pragma unroll
    for (int pass = 0; pass < MAX_PASSES; pass++) {
#pragma unroll
        for (int w = 0; w < 4; w++) {
            e[pass][w] = e[pass][w] == -INFINITY ? 0.0f : expf(e[pass][w] - max);
            sum += e[pass][w];
        }
    }
    sum = warp_sum(sum);
    float inverse = sum > 0 ? 1.0f / sum : 0.0f; // a row with every key masked stays zero
#pragma unroll
    for (int pass = 0; pass < MAX_PASSES; pass++) {
        long long tile = firstTile + 4 * pass;
        unsigned int c[4] = {0, 0, 0, 0}; // a tile past the row's end draws nothing: none of its elements is used
        if (tile * 32 < end) {
            philox_block(c, tile * 8 + j, seed, stream);
        }
#pragma unroll
        for (int w = 0; w < 4; w++) {
            long long i = tile * 32 + j + 8 * w;
            if (i >= first && i < end) {
                float p = e[pass][w] * inverse;
                probs[i] = p;
                store(probsDropped, i, philox_keeps(c[w], threshold) ? p * keepScale : 0.0f);
            }
        }
    }
}

extern "C" __global__ void attention_softmax_dropout_forward(const float* scores, const int* mask, float* probs,
                                                             float* probsDropped, int rows, int heads, int tokens,
                                                             float scale, unsigned int threshold, float keepScale,
                                                             unsigned long long seed, unsigned long long stream) {
    softmax_dropout_forward(scores, mask, probs, probsDropped, rows, heads, tokens, scale, threshold, keepScale, seed, stream);
}

extern "C" __global__ void attention_softmax_dropout_forward_bf16(const float* scores, const int* mask, float* probs,
                                                                  __nv_bfloat16* probsDropped, int rows, int heads,
                                                                  int tokens, float scale, unsigned int threshold,
                                                                  float keepScale, unsigned long long seed,
                                                                  unsigned long long stream) {
    softmax_dropout_forward(scores, mask, probs, probsDropped, rows, heads, tokens, scale, threshold, keepScale, seed, stream);
}

// dScores = scale * probs * (dProbs - sum(dProbs * probs)), row by row; dScores may alias dProbs.
extern "C" __global__ void attention_softmax_backward(const float* probs, const float* dProbs, float* dScores,
                                                      int rows, int tokens, float scale) {
    int row = blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) {
        return;
    }
    long long base = (long long) row * tokens;
    float dot = 0;
    for (int k = threadIdx.x; k < tokens; k += 32) {
        dot += dProbs[base + k] * probs[base + k];
    }
    dot = warp_sum(dot);
    for (int k = threadIdx.x; k < tokens; k += 32) {
        dScores[base + k] = scale * probs[base + k] * (dProbs[base + k] - dot);
    }
}

// The backward through the attention dropout and the softmax, with the mask drawn again: writes
// probsDropped = dropout(probs) and dScores = scale * (probsDropped * dDropped - probs * sum(probsDropped
// * dDropped)), which is the softmax backward of dProbs = dropout(dDropped). One warp per row; its lanes
// take the row's Philox blocks as the dropout kernel does, 8 lanes to a tile of 32 elements, 4 tiles a
// pass, and keep what they read in registers for the second half: each element is read once and
// written twice. Rows of at most MAX_TOKENS. dScores may alias dDropped (float outputs).
template <typename Out>
__device__ void dropout_softmax_backward(const float* probs, const float* dDropped, Out* probsDropped, Out* dScores,
                                         int rows, int tokens, float scale, unsigned int threshold, float keepScale,
                                         unsigned long long seed, unsigned long long stream) {
    int row = blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) {
        return;
    }
    long long first = (long long) row * tokens;
    long long end = first + tokens;
    int j = threadIdx.x % 8;
    long long firstTile = first / 32 + threadIdx.x / 8;
    float p[MAX_PASSES][4];
    float kept[MAX_PASSES][4];
    float d[MAX_PASSES][4];
    float dot = 0;
#pragma unroll
    for (int pass = 0; pass < MAX_PASSES; pass++) {
        long long tile = firstTile + 4 * pass;
        unsigned int c[4] = {0, 0, 0, 0}; // a tile past the row's end draws nothing: none of its elements is used
        if (tile * 32 < end) {
            philox_block(c, tile * 8 + j, seed, stream);
        }
#pragma unroll
        for (int w = 0; w < 4; w++) {
            long long i = tile * 32 + j + 8 * w;
            bool inside = i >= first && i < end;
            p[pass][w] = inside ? probs[i] : 0.0f;
            d[pass][w] = inside ? dDropped[i] : 0.0f;
            kept[pass][w] = philox_keeps(c[w], threshold) ? p[pass][w] * keepScale : 0.0f;
            if (inside) {
                store(probsDropped, i, kept[pass][w]);
            }
            dot += kept[pass][w] * d[pass][w];
        }
    }
    dot = warp_sum(dot);
#pragma unroll
    for (int pass = 0; pass < MAX_PASSES; pass++) {
#pragma unroll
        for (int w = 0; w < 4; w++) {
            long long i = (firstTile + 4 * pass) * 32 + j + 8 * w;
            if (i >= first && i < end) {
                store(dScores, i, scale * (kept[pass][w] * d[pass][w] - p[pass][w] * dot));
            }
        }
    }
}

extern "C" __global__ void attention_dropout_softmax_backward(const float* probs, const float* dDropped,
                                                              float* probsDropped, float* dScores, int rows,
                                                              int tokens, float scale, unsigned int threshold,
                                                              float keepScale, unsigned long long seed,
                                                              unsigned long long stream) {
    dropout_softmax_backward(probs, dDropped, probsDropped, dScores, rows, tokens, scale, threshold, keepScale, seed, stream);
}

extern "C" __global__ void attention_dropout_softmax_backward_bf16(const float* probs, const float* dDropped,
                                                                   __nv_bfloat16* probsDropped, __nv_bfloat16* dScores,
                                                                   int rows, int tokens, float scale,
                                                                   unsigned int threshold, float keepScale,
                                                                   unsigned long long seed, unsigned long long stream) {
    dropout_softmax_backward(probs, dDropped, probsDropped, dScores, rows, tokens, scale, threshold, keepScale, seed, stream);
}

// probs [rows, classes] = softmax(logits); losses [rows] = logsumexp(logits) - logits[target].
extern "C" __global__ void cross_entropy_forward(const float* logits, const int* targets, float* probs,
                                                 float* losses, int rows, int classes) {
    int row = blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) {
        return;
    }
    long long base = (long long) row * classes;
    float max = -INFINITY;
    for (int c = threadIdx.x; c < classes; c += 32) {
        max = fmaxf(max, logits[base + c]);
    }
    max = warp_max(max);
    float sum = 0;
    for (int c = threadIdx.x; c < classes; c += 32) {
        sum += expf(logits[base + c] - max);
    }
    sum = warp_sum(sum);
    for (int c = threadIdx.x; c < classes; c += 32) {
        probs[base + c] = expf(logits[base + c] - max) / sum;
    }
    if (threadIdx.x == 0) {
        losses[row] = logf(sum) + max - logits[base + targets[row]];
    }
}

// dLogits [rows, classes] = dLoss * (probs - onehot(targets))
extern "C" __global__ void cross_entropy_backward(const float* probs, const int* targets, float* dLogits,
                                                  int rows, int classes, float dLoss) {
    long long n = (long long) rows * classes;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        int row = (int) (i / classes);
        int c = (int) (i % classes);
        dLogits[i] = dLoss * (probs[i] - (c == targets[row] ? 1.0f : 0.0f));
    }
}
