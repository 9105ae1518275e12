// Attention's forward in one kernel per block of 64 query rows of one (sequence, head), for the CUDA
// backend's bf16 mode: context = dropout(softmax(scale Q Kᵀ)) V over the real keys, with the [T, T]
// scores and probabilities kept in registers, never written as such: the separate ops write the float
// scores, read them, write the probabilities (float and bf16) and read them again, 4-6 passes over
// [B, H, T, T] (226 MB a layer for bert-base at batch 32 x 384). A training forward writes the float
// probabilities once, for the backward; an evaluation writes nothing but the context. The backward's
// kernel (attention_backward, below) reads them once, and writes dQ and the two bf16 [B, H, T, T] tensors
// that the products for dK and dV read.
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
// 8 (i / 32) + i % 8, as philox.cuh lays them out. One draw per element, for rows that do not start on a
// tile of 32 (kept_bits draws a block for four elements otherwise).
__device__ __forceinline__ bool kept(long long i, unsigned int threshold, unsigned long long seed,
                                     unsigned long long stream) {
    unsigned int c[4];
    philox_block(c, (i / 32) * 8 + i % 8, seed, stream);
    int w = (int) (i % 32) / 8;
    unsigned int drawn = w == 0 ? c[0] : w == 1 ? c[1] : w == 2 ? c[2] : c[3];
    return philox_keeps(drawn, threshold);
}

// The attention dropout's verdicts on a lane's 16 elements of one row of a tile: bit 2n + e says whether
// element (row, first + 8n + 2t + e) is kept, rowStart being the index of (row, key 0) in [B, H, T, T].
// Where every row starts on a tile of 32 (ALIGNED), elements rowStart + first + 32h + 8w + 2t + e
// (w = 0..3) are the four words of one Philox block, so four draws give the 16 verdicts.
__device__ __forceinline__ unsigned int kept_bits(long long rowStart, int first, bool aligned, unsigned int threshold,
                                                  unsigned long long seed, unsigned long long stream) {
    int t = threadIdx.x % 4;
    unsigned int bits = 0;
    if (aligned) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                unsigned int c[4];
                philox_block(c, ((rowStart + first) / 32 + h) * 8 + 2 * t + e, seed, stream);
#pragma unroll
                for (int w = 0; w < 4; w++) {
                    bits |= (unsigned int) philox_keeps(c[w], threshold) << (2 * (4 * h + w) + e);
                }
            }
        }
    } else { // a loop, not unrolled: rarely taken, it should not take registers from the rest
#pragma unroll 1
        for (int n = 0; n < 8; n++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                bits |= (unsigned int) kept(rowStart + first + 8 * n + 2 * t + e, threshold, seed, stream) << (2 * n + e);
            }
        }
    }
    return bits;
}

// 64 keys of two [T, D] matrices, row by row as in memory: `scored`, whose rows the block's rows multiply
// into a [rows, 64 keys] tile (K in the forward, V in the backward), and `summed`, which that tile then
// multiplies (V in the forward, K in the backward). Rows past the last key are zeros (not garbage: 0
// times a NaN would spoil the second product).
template <int D>
struct KeyTile {
    bf16 scored[ROWS][D + PAD];
    bf16 summed[ROWS][D + PAD];
};

// Starts copying keys [first, first + 64) of `scored` (and of `summed` where withSummed) into `tile`, as
// one cp.async group.
template <int D>
__device__ __forceinline__ void fetch(KeyTile<D>& tile, const bf16* scored, const bf16* summed, bool withSummed,
                                      int rowStride, int tokens, int first) {
#pragma unroll
    for (int l = 0; l < ROWS * D / 8 / THREADS; l++) {
        int i = threadIdx.x + l * THREADS, key = i / (D / 8), col = 8 * (i % (D / 8));
        bool real = first + key < tokens;
        long long at = (long long) (real ? first + key : 0) * rowStride + col;
        copy_async(&tile.scored[key][col], scored + at, real);
        if (withSummed) {
            copy_async(&tile.summed[key][col], summed + at, real);
        }
    }
    asm volatile("cp.async.commit_group;");
}

// Calls body(pass, first, tile) for every tile of 64 keys, over all the keys PASSES times (only the last
// pass needs `summed`), each tile copied into shared memory while the warps work on the one before it.
template <int D, int PASSES, typename Body>
__device__ __forceinline__ void over_keys(KeyTile<D> tiles[2], const bf16* scored, const bf16* summed, int rowStride,
                                          int tokens, Body body) {
    int tileCount = (tokens + ROWS - 1) / ROWS, steps = PASSES * tileCount, lastPass = steps - tileCount;
    fetch<D>(tiles[0], scored, summed, lastPass == 0, rowStride, tokens, 0);
    for (int step = 0; step < steps; step++) {
        if (step + 1 < steps) { // the next tile, into the buffer the last step finished with
            fetch<D>(tiles[(step + 1) % 2], scored, summed, step + 1 >= lastPass, rowStride, tokens,
                     (step + 1) % tileCount * ROWS);
            asm volatile("cp.async.wait_group 1;"); // all but that one: this step's tile is in
        } else {
            asm volatile("cp.async.wait_group 0;");
        }
        __syncthreads();
        body(step / tileCount, step % tileCount * ROWS, tiles[step % 2]);
        __syncthreads(); // every warp is done with this tile before the next step refills its buffer
    }
}

// The A fragments of the warp's 16 rows of a bf16 [T, D] matrix m, one per 16 dimensions (this lane's
// rows: rows[0] and rows[1]); zeros past the last row.
template <int D>
__device__ __forceinline__ void load_rows(unsigned int a[D / 16][4], const bf16* m, int rowStride, const int rows[2],
                                          int tokens) {
    int t = threadIdx.x % 4;
#pragma unroll
    for (int c = 0; c < D / 16; c++) {
#pragma unroll
        for (int half = 0; half < 2; half++) { // registers 0, 1: columns 2t, 2t + 1; 2, 3: 8 further
#pragma unroll
            for (int r = 0; r < 2; r++) {
                const bf16* at = m + (long long) rows[r] * rowStride + 16 * c + 8 * half + 2 * t;
                a[c][2 * half + r] = rows[r] < tokens ? *reinterpret_cast<const unsigned int*>(at) : 0u;
            }
        }
    }
}

// Writes the warp's float [16, D] result o (fragments as mma's float tiles) to rows of a float [T, D]
// matrix m, past the last row nothing.
template <int D>
__device__ __forceinline__ void store_rows(const float o[D / 8][4], float* m, int rowStride, const int rows[2],
                                           int tokens) {
    int t = threadIdx.x % 4;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        if (rows[r] < tokens) {
#pragma unroll
            for (int n = 0; n < D / 8; n++) {
                float* at = m + (long long) rows[r] * rowStride + 8 * n + 2 * t;
                at[0] = o[n][2 * r];
                at[1] = o[n][2 * r + 1];
            }
        }
    }
}

// s = the warp's 16 rows (A fragments a) times the tile's 64 scored rows, transposed: 8 float tiles of
// 16 x 8, tile n holding keys 8n .. 8n + 7.
template <int D>
__device__ __forceinline__ void multiply_scored(const unsigned int a[D / 16][4], const KeyTile<D>& tile,
                                                float s[8][4]) {
    int lane = threadIdx.x % 32;
#pragma unroll
    for (int n = 0; n < 8; n++) {
        s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0;
#pragma unroll
        for (int c = 0; c < D / 32; c++) {
            // matrices j = 0..3: keys 8n .. 8n + 7, dimensions 32c + 8j ..: the B operands of two chunks of 16
            unsigned int b[4];
            load_matrices<false>(b, &tile.scored[8 * n + lane % 8][32 * c + 8 * (lane / 8)]);
            mma_bf16(s[n], a[2 * c], b[0], b[1]);
            mma_bf16(s[n], a[2 * c + 1], b[2], b[3]);
        }
    }
}

// o += s, rounded to bf16, times the tile's 64 summed rows: [16, 64] x [64, D]. The float tiles 2c and
// 2c + 1 of s, rounded, are the A operand of keys 16c .. 16c + 15.
template <int D>
__device__ __forceinline__ void multiply_summed(const float s[8][4], const KeyTile<D>& tile, float o[D / 8][4]) {
    int lane = threadIdx.x % 32;
#pragma unroll
    for (int c = 0; c < 4; c++) {
        unsigned int a[4] = {pack_bf16(s[2 * c][0], s[2 * c][1]), pack_bf16(s[2 * c][2], s[2 * c][3]),
                             pack_bf16(s[2 * c + 1][0], s[2 * c + 1][1]), pack_bf16(s[2 * c + 1][2], s[2 * c + 1][3])};
#pragma unroll
        for (int n = 0; n < D / 8; n += 2) {
            // matrices j = 0..3, transposed: keys 16c + 8 (j % 2) .., dimensions 8 (n + j / 2) ..: the B
            // operands of dimension tiles n and n + 1
            unsigned int b[4];
            load_matrices<true>(b, &tile.summed[16 * c + 8 * (lane / 8 % 2) + lane % 8][8 * (n + lane / 16)]);
            mma_bf16(o[n], a, b[0], b[1]);
            mma_bf16(o[n + 1], a, b[2], b[3]);
        }
    }
}

// A lane's elements of a tile of a [T, T] matrix m, in the float tile layout: x[n][2r + e] is element
// (rows[r], first + 8n + 2t + e), which lies at rowStart[r] + first + 8n + 2t + e. PAIRS: an even row
// length and m on 8 bytes, so that each lane's two adjacent elements move as one.
__device__ __forceinline__ void store_pair(float* at, float lo, float hi) {
    *reinterpret_cast<float2*>(at) = make_float2(lo, hi);
}

__device__ __forceinline__ void store_pair(bf16* at, float lo, float hi) {
    *reinterpret_cast<__nv_bfloat162*>(at) = __floats2bfloat162_rn(lo, hi);
}

__device__ __forceinline__ void store_one(float* at, float x) {
    *at = x;
}

__device__ __forceinline__ void store_one(bf16* at, float x) {
    *at = __float2bfloat16_rn(x);
}

// Writes x to the tile's elements of m (float, or rounded to bf16), none past the last row or key.
template <typename T>
__device__ __forceinline__ void store_tile(T* m, const float x[8][4], const long long rowStart[2], const int rows[2],
                                           int first, int tokens, bool pairs) {
    int t = threadIdx.x % 4;
#pragma unroll
    for (int r = 0; r < 2; r++) {
#pragma unroll
        for (int n = 0; n < 8; n++) {
            int key = first + 8 * n + 2 * t;
            T* at = m + rowStart[r] + key;
            if (rows[r] < tokens && key + 1 < tokens && pairs) {
                store_pair(at, x[n][2 * r], x[n][2 * r + 1]);
            } else if (rows[r] < tokens) {
                if (key < tokens) {
                    store_one(at, x[n][2 * r]);
                }
                if (key + 1 < tokens) {
                    store_one(at + 1, x[n][2 * r + 1]);
                }
            }
        }
    }
}

// Reads the tile's elements of the float m into x; zeros past the last row or key.
__device__ __forceinline__ void load_tile(float x[8][4], const float* m, const long long rowStart[2], const int rows[2],
                                          int first, int tokens, bool pairs) {
    int t = threadIdx.x % 4;
#pragma unroll
    for (int r = 0; r < 2; r++) {
#pragma unroll
        for (int n = 0; n < 8; n++) {
            int key = first + 8 * n + 2 * t;
            const float* at = m + rowStart[r] + key;
            bool row = rows[r] < tokens;
            if (row && key + 1 < tokens && pairs) {
                float2 pair = *reinterpret_cast<const float2*>(at);
                x[n][2 * r] = pair.x;
                x[n][2 * r + 1] = pair.y;
            } else {
                x[n][2 * r] = row && key < tokens ? at[0] : 0.0f;
                x[n][2 * r + 1] = row && key + 1 < tokens ? at[1] : 0.0f;
            }
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

// What the kernels share: the block's (sequence, head) z, its warp's rows (this lane's two: rows[0]
// and rows[1] = rows[0] + 8) and where they start in a [B, H, T, T] tensor.
struct Rows {
    int z;
    int rows[2];
    long long rowStart[2];
    __device__ Rows(int tokens) {
        int g = threadIdx.x % 32 / 4;
        z = blockIdx.y;
        rows[0] = blockIdx.x * ROWS + threadIdx.x / 32 * 16 + g;
        rows[1] = rows[0] + 8;
        for (int r = 0; r < 2; r++) {
            rowStart[r] = ((long long) z * tokens + rows[r]) * tokens;
        }
    }
};

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
    Rows my(tokens);
    long long inStart = in.start(my.z);
    for (int key = threadIdx.x; key < tokens; key += THREADS) {
        realKey[key] = mask[(long long) (my.z / heads) * tokens + key] != 0;
    }
    unsigned int qa[D / 16][4];
    load_rows<D>(qa, q + inStart, in.rowStride, my.rows, tokens);

    float max[2] = {-INFINITY, -INFINITY}, sum[2] = {0, 0}, inverse[2];
    float o[D / 8][4];
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
        o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0;
    }
    bool aligned = tokens % 32 == 0;
    bool pairs = TRAINING && tokens % 2 == 0 && reinterpret_cast<unsigned long long>(probs) % 8 == 0;
    int t = threadIdx.x % 4, tileCount = (tokens + ROWS - 1) / ROWS;
    float log2Scale = 1.4426950408889634f * scale;
    over_keys<D, 2>(tiles, k + inStart, v + inStart, in.rowStride, tokens,
                       [&](int pass, int first, const KeyTile<D>& tile) {
        // s = log2(e) scale Q Kᵀ; keys that are not real get -infinity
        float s[8][4];
        multiply_scored<D>(qa, tile, s);
#pragma unroll
        for (int n = 0; n < 8; n++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int key = first + 8 * n + 2 * t + e % 2;
                s[n][e] = key < tokens && realKey[key] ? log2Scale * s[n][e] : -INFINITY;
            }
        }
        if (pass == 0) {
            // each row's maximum and sum: lanes keep partial sums against the row's maximum so far,
            // added up at the end
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
                if (first / ROWS == tileCount - 1) {
                    float total = quad_sum(sum[r]);
                    inverse[r] = total > 0 ? 1.0f / total : 0.0f; // a row with every key masked stays zero,
                    max[r] = total > 0 ? max[r] : 0.0f;           // with exp2(-infinity - 0) = 0 below
                }
            }
            return;
        }
        // the probabilities, their dropout, and o += P V
#pragma unroll
        for (int n = 0; n < 8; n++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                s[n][e] = exp2f(s[n][e] - max[e / 2]) * inverse[e / 2];
            }
        }
        if (TRAINING) {
            store_tile(probs, s, my.rowStart, my.rows, first, tokens, pairs);
#pragma unroll
            for (int r = 0; r < 2; r++) {
                unsigned int bits = kept_bits(my.rowStart[r], first, aligned, threshold, seed, stream);
#pragma unroll
                for (int n = 0; n < 8; n++) {
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        float& p = s[n][2 * r + e];
                        p = bits >> (2 * n + e) & 1 ? p * keepScale : 0.0f;
                    }
                }
            }
        }
        multiply_summed<D>(s, tile, o);
    });
    store_rows<D>(o, out + outLayout.start(my.z), outLayout.rowStride, my.rows, tokens);
}

// The backward of the training forward, per block of 64 query rows: with dD = dContext Vᵀ (the gradient
// of the dropped probabilities) and P the forward's float probabilities,
//   dropped = dropout(P), dS = scale (dropped dD - P sum(dropped dD)), dQ = dS K,
// as softmax.cu's attention_dropout_softmax_backward and the products after it compute them, except for
// each row's sum(dropped dD), which is dContext · context (the forward's context = dropped V), so that one
// pass over the keys does: it writes bf16 dropped and dS ([B, H, T, T], for the products
// dV = droppedᵀ dContext and dK = dSᵀ Q, which cuBLAS runs after this) and multiplies dS, rounded as those
// products round it, by K.
// dc: the bf16 copy of dContext, dOut the float one, context the forward's, all three where dcLayout says;
// k, v: bf16 copies of K and V, and dq, the float gradient of Q, where `in` says.
template <int D>
__device__ void attention_backward(const bf16* dc, const float* dOut, const float* context, Layout dcLayout,
                                   const bf16* k, const bf16* v, Layout in, const float* probs, bf16* dropped,
                                   bf16* gradients, float* dq, int tokens, float scale, unsigned int threshold,
                                   float keepScale, unsigned long long seed, unsigned long long stream) {
    __shared__ __align__(16) KeyTile<D> tiles[2];
    Rows my(tokens);
    long long inStart = in.start(my.z), dcStart = dcLayout.start(my.z);
    unsigned int da[D / 16][4];
    load_rows<D>(da, dc + dcStart, dcLayout.rowStride, my.rows, tokens);
    // each row's sum, the four lanes of a row taking every fourth dimension
    int t = threadIdx.x % 4;
    float dot[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float partial = 0;
        if (my.rows[r] < tokens) {
            long long row = dcStart + (long long) my.rows[r] * dcLayout.rowStride;
#pragma unroll
            for (int i = t; i < D; i += 4) {
                partial += dOut[row + i] * context[row + i];
            }
        }
        dot[r] = quad_sum(partial);
    }

    float o[D / 8][4];
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
        o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0;
    }
    bool aligned = tokens % 32 == 0;
    bool readPairs = tokens % 2 == 0 && reinterpret_cast<unsigned long long>(probs) % 8 == 0;
    bool writePairs = tokens % 2 == 0 && reinterpret_cast<unsigned long long>(dropped) % 4 == 0
                      && reinterpret_cast<unsigned long long>(gradients) % 4 == 0;
    over_keys<D, 1>(tiles, v + inStart, k + inStart, in.rowStride, tokens,
                    [&](int, int first, const KeyTile<D>& tile) {
        float p[8][4], d[8][4]; // P, turned into dropout(P); dD, turned into dS
        load_tile(p, probs, my.rowStart, my.rows, first, tokens, readPairs);
        multiply_scored<D>(da, tile, d);
#pragma unroll
        for (int r = 0; r < 2; r++) {
            unsigned int bits = kept_bits(my.rowStart[r], first, aligned, threshold, seed, stream);
#pragma unroll
            for (int n = 0; n < 8; n++) {
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    int i = 2 * r + e;
                    float kept = bits >> (2 * n + e) & 1 ? p[n][i] * keepScale : 0.0f;
                    d[n][i] = scale * (kept * d[n][i] - p[n][i] * dot[r]);
                    p[n][i] = kept;
                }
            }
        }
        store_tile(dropped, p, my.rowStart, my.rows, first, tokens, writePairs);
        store_tile(gradients, d, my.rowStart, my.rows, first, tokens, writePairs);
        multiply_summed<D>(d, tile, o);
    });
    store_rows<D>(o, dq + inStart, in.rowStride, my.rows, tokens);
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
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(THREADS, 3) attention_training_backward_##D(                      \
            const bf16* dc, const float* dOut, const float* context, int dcRowStride, int dcPerGroup,               \
            int dcGroupStride, int dcMemberStride, const bf16* k, const bf16* v, int rowStride, int perGroup,       \
            int groupStride, int memberStride, const float* probs, bf16* dropped, bf16* gradients, float* dq,       \
            int tokens, float scale, unsigned int threshold, float keepScale, unsigned long long seed,               \
            unsigned long long stream) {                                                                             \
        attention_backward<D>(dc, dOut, context, Layout{dcRowStride, dcPerGroup, dcGroupStride, dcMemberStride}, k, \
                v, Layout{rowStride, perGroup, groupStride, memberStride}, probs, dropped, gradients, dq, tokens,    \
                scale, threshold, keepScale, seed, stream);                                                          \
    }

// head sizes: 64 (bert-base and large), 32 (MiniLM)
ATTENTION_KERNELS(64)
ATTENTION_KERNELS(32)
