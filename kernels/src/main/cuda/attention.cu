// Attention's forward in one kernel per block of 64 query rows of one (sequence, head), for the CUDA
// backend's bf16 mode: context = dropout(softmax(scale Q Kᵀ)) V over the real keys, with the [T, T]
// scores and probabilities kept in registers, never written as such: the separate ops write the float
// scores, read them, write the probabilities (float and bf16) and read them again, 4-6 passes over
// [B, H, T, T] (226 MB a layer for bert-base at batch 32 x 384). A training forward writes the float
// probabilities once, for the backward; an evaluation writes nothing but the context.
//
// The products run on tensor cores (mma.sync m16n8k16, bf16 in, float accumulators) from bf16 copies
// of Q, K and V, the probabilities rounded before P V, as the separate bf16 ops round them. Two passes
// over the keys: the first finds each row's maximum and sum (online: the sum rescaled whenever the
// maximum grows), the second computes the normalized probabilities as attention_softmax_forward does,
// exp(scale s - max) / sum, before rounding and multiplying (a one-pass "flash" kernel would round
// unnormalized values instead, and could not write the probabilities the backward reads). The
// exponentials are taken in base 2, exp2(log2(e) scale s - max'), one multiprocessor instruction
// where expf takes about ten: they differ from expf's by a few units in the last place.
//
// Threads: a block of 4 warps takes 64 query rows, a warp 16 of them; 3 blocks a multiprocessor in
// training, 4 in evaluation (168 and 128 registers a thread, a few bytes spilled: with fewer blocks,
// too little work is in flight to hide the waits). The grid's x is the block of rows, its y the
// (sequence, head), so that the blocks of one head run at about the same time and find its K and V
// in L2. Tiles of 64 keys of K (and in the second pass V) go through shared memory, the next one
// copied in (cp.async) while the warps multiply the current one. mma's fragments fix who holds what: in
// a warp, lane = 4 g + t; of a 16 x 8 float tile, a lane holds rows g and g + 8, columns 2t and 2t + 1; of
// a 16 x 16 bf16 A operand, rows g and g + 8, columns 2t, 2t + 1, 2t + 8, 2t + 9; of a 16 x 8 B operand,
// rows 2t, 2t + 1, 2t + 8, 2t + 9 of column g. So a tile of scores, laid out as the float tile, is also
// the A operand of P V after rounding: no shuffling between the products.

#include <cuda_bf16.h>
#include "philox.cuh"

#define ROWS 64          // query rows per block, and keys per tile of K and V
#define WARPS 4          // 16 query rows each
#define THREADS (32 * WARPS)
#define PAD 8            // bf16 elements after each staged row: ldmatrix's 8 row reads then hit distinct banks
#define MAX_TOKENS 512   // BERT's positions; the host runs longer rows as separate ops

typedef __nv_bfloat16 bf16;

// Where matrix z of a batched operand starts (dev.jbert.kernels.MatrixLayout).
struct Layout {
    int rowStride, perGroup, groupStride, memberStride;
    __device__ long long start(int z) const {
        return (long long) (z / perGroup) * groupStride + (long long) (z % perGroup) * memberStride;
    }
};

__device__ __forceinline__ unsigned int pack_bf16(float lo, float hi) {
    __nv_bfloat162 pair = __floats2bfloat162_rn(lo, hi); // .x (the lower column) in the low half
    return *reinterpret_cast<unsigned int*>(&pair);
}

// d += a b for a 16 x 16 bf16 A, a 16 x 8 bf16 B and a 16 x 8 float D, fragments as above.
__device__ __forceinline__ void mma_bf16(float d[4], const unsigned int a[4], unsigned int b0, unsigned int b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ unsigned int shared_address(const void* p) {
    return (unsigned int) __cvta_generic_to_shared(p);
}

// Four 8 x 8 bf16 matrices from shared memory, lane 8 j + r giving the address of row r of matrix j;
// lane 4 g + t receives in r[j] row g, columns 2t and 2t + 1 of matrix j (TRANSPOSED: of its transpose).
template <bool TRANSPOSED>
__device__ __forceinline__ void load_matrices(unsigned int r[4], const bf16* row) {
    if (TRANSPOSED) {
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_address(row)));
    } else {
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_address(row)));
    }
}

// 16 bytes from global to shared memory, asynchronously; zeros where !real (from is then not read).
__device__ __forceinline__ void copy_async(bf16* to, const bf16* from, bool real) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(shared_address(to)), "l"(from),
                 "r"(real ? 16 : 0));
}

// Whether dropout keeps element i of its [B, H, T, T] tensor: word (i % 32) / 8 of Philox block
// 8 (i / 32) + i % 8, as philox.cuh lays them out. One draw per element: the kernel uses this only where
// a row does not start on a tile of 32, and draws a block for four elements otherwise.
__device__ __forceinline__ bool kept(long long i, unsigned int threshold, unsigned long long seed,
                                     unsigned long long stream) {
    unsigned int c[4];
    philox_block(c, (i / 32) * 8 + i % 8, seed, stream);
    int w = (int) (i % 32) / 8;
    unsigned int drawn = w == 0 ? c[0] : w == 1 ? c[1] : w == 2 ? c[2] : c[3];
    return philox_keeps(drawn, threshold);
}

// 64 keys of K and V, row by row as in memory; rows past the last key are zeros (not garbage: 0 times
// a NaN would spoil P V).
template <int D>
struct KeyTile {
    bf16 k[ROWS][D + PAD];
    bf16 v[ROWS][D + PAD];
};

// Starts copying keys [first, first + 64) of K (and V) into `tile`, as one cp.async group.
template <int D>
__device__ __forceinline__ void fetch(KeyTile<D>& tile, const bf16* k, const bf16* v, bool withV, int rowStride,
                                      int tokens, int first) {
#pragma unroll
    for (int l = 0; l < ROWS * D / 8 / THREADS; l++) {
        int i = threadIdx.x + l * THREADS, key = i / (D / 8), col = 8 * (i % (D / 8));
        bool real = first + key < tokens;
        long long at = (long long) (real ? first + key : 0) * rowStride + col;
        copy_async(&tile.k[key][col], k + at, real);
        if (withV) {
            copy_async(&tile.v[key][col], v + at, real);
        }
    }
    asm volatile("cp.async.commit_group;");
}

// s = log2(e) scale Q Kᵀ for the warp's 16 rows and the tile's 64 keys, 8 float tiles of 16 x 8; keys
// that are not real get -infinity.
template <int D>
__device__ __forceinline__ void scores(const unsigned int qa[D / 16][4], const KeyTile<D>& tile,
                                       const unsigned char* realKey, int first, int tokens, float log2Scale,
                                       float s[8][4]) {
    int lane = threadIdx.x % 32, t = lane % 4;
#pragma unroll
    for (int n = 0; n < 8; n++) {
        s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0;
#pragma unroll
        for (int c = 0; c < D / 32; c++) {
            // matrices j = 0..3: keys 8n .. 8n + 7, dimensions 32c + 8j ..: the B operands of two chunks of 16
            unsigned int b[4];
            load_matrices<false>(b, &tile.k[8 * n + lane % 8][32 * c + 8 * (lane / 8)]);
            mma_bf16(s[n], qa[2 * c], b[0], b[1]);
            mma_bf16(s[n], qa[2 * c + 1], b[2], b[3]);
        }
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int key = first + 8 * n + 2 * t + e % 2;
            s[n][e] = key < tokens && realKey[key] ? log2Scale * s[n][e] : -INFINITY;
        }
    }
}

// The four lanes t = 0..3 that share a row.
__device__ __forceinline__ float quad_max(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

__device__ __forceinline__ float quad_sum(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

// q, k, v: bf16 copies of Q, K and V, each (sequence, head) a [T, D] matrix where `in` says (the model's
// [B, T, 3, H, D] projection), rows starting on 16 bytes; mask [B, T]; out: the float context
// matrices where `outLayout` says. TRAINING: probs [B, H, T, T] receives the float probabilities, and
// P V multiplies their dropout (threshold, keepScale, seed, stream as the dropout kernels take them);
// else probs is unused.
template <int D, bool TRAINING>
__device__ void attention_forward(const bf16* q, const bf16* k, const bf16* v, Layout in, const int* mask,
                                  float* probs, float* out, Layout outLayout, int heads, int tokens, float scale,
                                  unsigned int threshold, float keepScale, unsigned long long seed,
                                  unsigned long long stream) {
    __shared__ __align__(16) KeyTile<D> tiles[2];
    __shared__ unsigned char realKey[MAX_TOKENS];
    int z = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    long long inStart = in.start(z);
    const bf16* kz = k + inStart;
    const bf16* vz = v + inStart;
    int tileCount = (tokens + ROWS - 1) / ROWS, steps = 2 * tileCount; // pass 1, then pass 2
    fetch<D>(tiles[0], kz, vz, false, in.rowStride, tokens, 0);
    for (int key = threadIdx.x; key < tokens; key += THREADS) {
        realKey[key] = mask[(long long) (z / heads) * tokens + key] != 0;
    }
    int row0 = blockIdx.x * ROWS + warp * 16 + g; // this lane's rows: row0 and row0 + 8
    int rows[2] = {row0, row0 + 8};

    // the warp's 16 rows of Q as A fragments, one per 16 dimensions
    unsigned int qa[D / 16][4];
#pragma unroll
    for (int c = 0; c < D / 16; c++) {
#pragma unroll
        for (int half = 0; half < 2; half++) { // registers 0, 1: columns 2t, 2t + 1; 2, 3: 8 further
#pragma unroll
            for (int r = 0; r < 2; r++) {
                const bf16* at = q + inStart + (long long) rows[r] * in.rowStride + 16 * c + 8 * half + 2 * t;
                qa[c][2 * half + r] = rows[r] < tokens ? *reinterpret_cast<const unsigned int*>(at) : 0u;
            }
        }
    }

    float max[2] = {-INFINITY, -INFINITY}, sum[2] = {0, 0}, inverse[2];
    float o[D / 8][4];
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
        o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0;
    }
    // a row's dropout draws four elements with one Philox block where the row starts on a tile of 32;
    // a lane writes its two adjacent probabilities in one store where they lie on 8 bytes (an even row
    // length puts every row, and so every even key, there if probs starts there)
    bool aligned = tokens % 32 == 0;
    bool pairs = TRAINING && tokens % 2 == 0 && reinterpret_cast<unsigned long long>(probs) % 8 == 0;
    for (int step = 0; step < steps; step++) {
        int first = step % tileCount * ROWS;
        if (step + 1 < steps) { // the next tile, into the buffer the last step finished with
            fetch<D>(tiles[(step + 1) % 2], kz, vz, step + 1 >= tileCount, in.rowStride, tokens,
                     (step + 1) % tileCount * ROWS);
            asm volatile("cp.async.wait_group 1;"); // all but that one: this step's tile is in
        } else {
            asm volatile("cp.async.wait_group 0;");
        }
        __syncthreads();
        const KeyTile<D>& tile = tiles[step % 2];
        float s[8][4];
        scores<D>(qa, tile, realKey, first, tokens, 1.4426950408889634f * scale, s);
        if (step < tileCount) {
            // pass 1: lanes keep partial sums against the row's maximum so far, added up at the end
#pragma unroll
            for (int r = 0; r < 2; r++) {
                float tileMax = -INFINITY;
#pragma unroll
                for (int n = 0; n < 8; n++) {
                    tileMax = fmaxf(tileMax, fmaxf(s[n][2 * r], s[n][2 * r + 1]));
                }
                float newMax = fmaxf(max[r], quad_max(tileMax));
                if (newMax != -INFINITY) {
                    sum[r] *= exp2f(max[r] - newMax); // 0 while max was -infinity, as exp2 of -infinity is
#pragma unroll
                    for (int n = 0; n < 8; n++) {
                        sum[r] += exp2f(s[n][2 * r] - newMax) + exp2f(s[n][2 * r + 1] - newMax);
                    }
                }
                max[r] = newMax;
                if (step == tileCount - 1) {
                    float total = quad_sum(sum[r]);
                    inverse[r] = total > 0 ? 1.0f / total : 0.0f; // a row with every key masked stays zero,
                    max[r] = total > 0 ? max[r] : 0.0f;           // with exp2(-infinity - 0) = 0 below
                }
            }
        } else {
            // pass 2: the probabilities, their dropout, and P V
#pragma unroll
            for (int r = 0; r < 2; r++) {
                long long rowStart = ((long long) z * tokens + rows[r]) * tokens; // element (row, key 0) of probs
#pragma unroll
                for (int n = 0; n < 8; n++) {
                    int key = first + 8 * n + 2 * t; // of s[n][2r], and key + 1 of s[n][2r + 1]
                    float p0 = exp2f(s[n][2 * r] - max[r]) * inverse[r], p1 = exp2f(s[n][2 * r + 1] - max[r]) * inverse[r];
                    if (TRAINING) {
                        float* at = probs + rowStart + key;
                        if (rows[r] < tokens && key + 1 < tokens && pairs) {
                            *reinterpret_cast<float2*>(at) = make_float2(p0, p1);
                        } else if (rows[r] < tokens) {
                            if (key < tokens) {
                                at[0] = p0;
                            }
                            if (key + 1 < tokens) {
                                at[1] = p1;
                            }
                        }
                        if (!aligned) {
                            p0 = kept(rowStart + key, threshold, seed, stream) ? p0 * keepScale : 0.0f;
                            p1 = kept(rowStart + key + 1, threshold, seed, stream) ? p1 * keepScale : 0.0f;
                        }
                    }
                    s[n][2 * r] = p0;
                    s[n][2 * r + 1] = p1;
                }
                if (TRAINING && aligned) {
                    // elements rowStart + first + 32 h + 8 w + 2t + e (w = 0..3) are the words of one block
#pragma unroll
                    for (int h = 0; h < 2; h++) {
#pragma unroll
                        for (int e = 0; e < 2; e++) {
                            unsigned int c[4];
                            philox_block(c, ((rowStart + first) / 32 + h) * 8 + 2 * t + e, seed, stream);
#pragma unroll
                            for (int w = 0; w < 4; w++) {
                                float& p = s[4 * h + w][2 * r + e];
                                p = philox_keeps(c[w], threshold) ? p * keepScale : 0.0f;
                            }
                        }
                    }
                }
            }
            // o += P V: the score tiles 2c and 2c + 1, rounded, are the A operand of keys 16c .. 16c + 15
#pragma unroll
            for (int c = 0; c < 4; c++) {
                unsigned int pa[4] = {pack_bf16(s[2 * c][0], s[2 * c][1]), pack_bf16(s[2 * c][2], s[2 * c][3]),
                                      pack_bf16(s[2 * c + 1][0], s[2 * c + 1][1]),
                                      pack_bf16(s[2 * c + 1][2], s[2 * c + 1][3])};
#pragma unroll
                for (int n = 0; n < D / 8; n += 2) {
                    // matrices j = 0..3, transposed: keys 16c + 8 (j % 2) .., dimensions 8 (n + j / 2) ..:
                    // the B operands of dimension tiles n and n + 1
                    unsigned int b[4];
                    load_matrices<true>(b, &tile.v[16 * c + 8 * (lane / 8 % 2) + lane % 8][8 * (n + lane / 16)]);
                    mma_bf16(o[n], pa, b[0], b[1]);
                    mma_bf16(o[n + 1], pa, b[2], b[3]);
                }
            }
        }
        __syncthreads(); // every warp is done with this tile before the next step refills its buffer
    }

    float* outz = out + outLayout.start(z);
#pragma unroll
    for (int r = 0; r < 2; r++) {
        if (rows[r] < tokens) {
#pragma unroll
            for (int n = 0; n < D / 8; n++) {
                float* at = outz + (long long) rows[r] * outLayout.rowStride + 8 * n + 2 * t;
                at[0] = o[n][2 * r];
                at[1] = o[n][2 * r + 1];
            }
        }
    }
}

#define ATTENTION_KERNELS(D)                                                                                         \
    extern "C" __global__ void __launch_bounds__(THREADS, 4) attention_evaluation_##D(                             \
            const bf16* q, const bf16* k, const bf16* v, int rowStride, int perGroup, int groupStride,               \
            int memberStride, const int* mask, float* out, int outRowStride, int outPerGroup, int outGroupStride,   \
            int outMemberStride, int heads, int tokens, float scale) {                                               \
        attention_forward<D, false>(q, k, v, Layout{rowStride, perGroup, groupStride, memberStride}, mask, nullptr, \
                out, Layout{outRowStride, outPerGroup, outGroupStride, outMemberStride}, heads, tokens, scale, 0, 1, \
                0, 0);                                                                                               \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS, 3) attention_training_forward_##D(                       \
            const bf16* q, const bf16* k, const bf16* v, int rowStride, int perGroup, int groupStride,               \
            int memberStride, const int* mask, float* probs, float* out, int outRowStride, int outPerGroup,         \
            int outGroupStride, int outMemberStride, int heads, int tokens, float scale, unsigned int threshold,    \
            float keepScale, unsigned long long seed, unsigned long long stream) {                                   \
        attention_forward<D, true>(q, k, v, Layout{rowStride, perGroup, groupStride, memberStride}, mask, probs,    \
                out, Layout{outRowStride, outPerGroup, outGroupStride, outMemberStride}, heads, tokens, scale,       \
                threshold, keepScale, seed, stream);                                                                 \
    }

// head sizes: 64 (bert-base and large), 32 (MiniLM)
ATTENTION_KERNELS(64)
ATTENTION_KERNELS(32)
