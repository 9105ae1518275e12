// Elementwise and layout kernels of the CUDA backend: fill, residual add, subtract, bias add, the head
// split/merge transpose, GELU, dropout, and the rounding of GEMM inputs to bfloat16. Every kernel
// walks its elements with a grid-stride loop, so the host may launch any grid size. Shapes are
// row-major, as in Backend.java.

#include <cuda_bf16.h>
#include "philox.cuh"

// x[i] = value for i < n
extern "C" __global__ void fill(float* x, float value, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        x[i] = value;
    }
}

// out = a + b; out may alias a or b (each element is read before it is written, by one thread)
extern "C" __global__ void add(const float* a, const float* b, float* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        out[i] = a[i] + b[i];
    }
}

// out = a - b; out may alias a or b (the training dynamics: parameters after a step minus before it)
extern "C" __global__ void subtract(const float* a, const float* b, float* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        out[i] = a[i] - b[i];
    }
}

// y = x rounded to bfloat16 (to nearest, ties to even), for i < n: the inputs of a GEMM in bf16 mode.
// Where both ends are 16-byte aligned (always, but for slices at odd offsets), each thread reads 8
// floats as two 16-byte loads and writes their 8 bf16 as one 16-byte store; the last n % 8 elements,
// or all of them when unaligned, one at a time. (One element per thread left the 2-byte stores
// narrower than the memory system's transactions.)
// a and b rounded to bfloat16, packed a first (at the lower address) as 4 bytes
__device__ __forceinline__ unsigned bf16_pair(float a, float b) {
    __nv_bfloat162 pair = __floats2bfloat162_rn(a, b);
    return *reinterpret_cast<const unsigned*>(&pair);
}

extern "C" __global__ void round_to_bf16(const float* x, __nv_bfloat16* y, long long n) {
    long long first = blockIdx.x * (long long) blockDim.x + threadIdx.x, stride = (long long) gridDim.x * blockDim.x;
    long long scalarFrom = 0;
    if ((((unsigned long long) x | (unsigned long long) y) & 15) == 0) {
        const float4* in = reinterpret_cast<const float4*>(x);
        uint4* out = reinterpret_cast<uint4*>(y);
        for (long long i = first; i < n / 8; i += stride) {
            float4 lo = in[2 * i], hi = in[2 * i + 1];
            out[i] = make_uint4(bf16_pair(lo.x, lo.y), bf16_pair(lo.z, lo.w), bf16_pair(hi.x, hi.y), bf16_pair(hi.z, hi.w));
        }
        scalarFrom = n / 8 * 8;
    }
    for (long long i = scalarFrom + first; i < n; i += stride) {
        y[i] = __float2bfloat16_rn(x[i]);
    }
}

// x [rows, cols] += bias [cols], broadcast over rows
extern "C" __global__ void add_bias(float* x, const float* bias, long long rows, int cols) {
    long long n = rows * cols;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        x[i] += bias[i % cols];
    }
}

// y [d0, d2, d1, d3] = x [d0, d1, d2, d3] with the middle axes swapped. Row (a, b) of x holds d2 * d3
// contiguous elements, which land as d2 runs of d3 contiguous elements (64 floats for a BERT head), so
// reads and writes are both coalesced. The grid's y walks the d0 * d1 rows and its x the chunks of a
// row: a few long rows (d0 * d1 = 3) and many short ones (36864) both fill the GPU.
extern "C" __global__ void swap_middle_axes(const float* x, float* y, int d0, int d1, int d2, int d3) {
    int rowLength = d2 * d3;
    for (long long row = blockIdx.y; row < (long long) d0 * d1; row += gridDim.y) {
        long long a = row / d1;
        int b = (int) (row % d1);
        const float* source = x + row * rowLength;
        float* target = y + (a * d2 * d1 + b) * d3; // element (a, c = 0, b, d = 0) of y
        for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < rowLength; i += gridDim.x * blockDim.x) {
            int c = i / d3;
            target[(long long) c * d1 * d3 + (i - c * d3)] = source[i];
        }
    }
}

// For every i < n, one(i); where `fours` (every operand 16-byte aligned), four(j) takes elements 4j to
// 4j + 3 as one float4 each, and one(i) only the last n % 4. A grid-stride loop either way: 16-byte
// accesses keep more bytes in flight per thread than 4-byte ones (the GELU kernels ran at 68-74% of a
// device copy's bandwidth with one float a thread).
template <typename One, typename Four>
__device__ __forceinline__ void for_each_element(long long n, bool fours, One one, Four four) {
    long long first = blockIdx.x * (long long) blockDim.x + threadIdx.x, stride = (long long) gridDim.x * blockDim.x;
    long long oneFrom = 0;
    if (fours) {
        for (long long j = first; j < n / 4; j += stride) {
            four(j);
        }
        oneFrom = n / 4 * 4;
    }
    for (long long i = oneFrom + first; i < n; i += stride) {
        one(i);
    }
}

__device__ __forceinline__ bool aligned16(const void* a, const void* b, const void* c = nullptr,
                                          const void* d = nullptr) {
    return (((unsigned long long) a | (unsigned long long) b | (unsigned long long) c | (unsigned long long) d) & 15) == 0;
}

// x Phi(x), Phi the standard normal CDF (the erf form, not the tanh approximation)
__device__ __forceinline__ float gelu(float v) {
    return v * 0.5f * (1.0f + erff(v * 0.70710678118654752f));
}

// its derivative, Phi(x) + x phi(x), phi the standard normal density
__device__ __forceinline__ float gelu_slope(float v) {
    float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
    float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
    return cdf + v * pdf;
}

// y = gelu(x); y may alias x
extern "C" __global__ void gelu_forward(const float* x, float* y, long long n) {
    for_each_element(n, aligned16(x, y), [&](long long i) { y[i] = gelu(x[i]); }, [&](long long j) {
        float4 v = reinterpret_cast<const float4*>(x)[j];
        reinterpret_cast<float4*>(y)[j] = make_float4(gelu(v.x), gelu(v.y), gelu(v.z), gelu(v.w));
    });
}

// dx = dy gelu'(x); dx may alias dy
extern "C" __global__ void gelu_backward(const float* x, const float* dy, float* dx, long long n) {
    for_each_element(n, aligned16(x, dy, dx), [&](long long i) { dx[i] = dy[i] * gelu_slope(x[i]); },
                     [&](long long j) {
        float4 v = reinterpret_cast<const float4*>(x)[j], d = reinterpret_cast<const float4*>(dy)[j];
        reinterpret_cast<float4*>(dx)[j] = make_float4(d.x * gelu_slope(v.x), d.y * gelu_slope(v.y),
                                                       d.z * gelu_slope(v.z), d.w * gelu_slope(v.w));
    });
}

// Both at once, as the model's backward needs them (the FFN's GELU output for its second Linear's
// weight gradient, recomputed, and the gradient through it): x and dy read once, erf computed once. The
// same expressions as the two kernels above, so the same bits. dx may alias dy; y aliases neither.
extern "C" __global__ void gelu_forward_backward(const float* x, float* y, const float* dy, float* dx, long long n) {
    for_each_element(n, aligned16(x, y, dy, dx), [&](long long i) {
        float v = x[i];
        y[i] = gelu(v);
        dx[i] = dy[i] * gelu_slope(v);
    }, [&](long long j) {
        float4 v = reinterpret_cast<const float4*>(x)[j], d = reinterpret_cast<const float4*>(dy)[j];
        reinterpret_cast<float4*>(y)[j] = make_float4(gelu(v.x), gelu(v.y), gelu(v.z), gelu(v.w));
        reinterpret_cast<float4*>(dx)[j] = make_float4(d.x * gelu_slope(v.x), d.y * gelu_slope(v.y),
                                                       d.z * gelu_slope(v.z), d.w * gelu_slope(v.w));
    });
}

// Inverted dropout with the mask of dev.jbert.kernels.Philox (see philox.cuh): one thread computes one
// block and decides its 4 elements; kept values are scaled by 1 / (1 - p). y may alias x.
extern "C" __global__ void dropout(const float* x, float* y, long long n, unsigned int threshold, float scale,
                                   unsigned long long seed, unsigned long long stream) {
    long long blocks = (n + 31) / 32 * 8;
    for (long long block = blockIdx.x * (long long) blockDim.x + threadIdx.x; block < blocks;
         block += (long long) gridDim.x * blockDim.x) {
        unsigned int c[4];
        philox_block(c, block, seed, stream);
        long long first = block / 8 * 32 + block % 8;
        for (int w = 0; w < 4; w++) {
            long long i = first + 8 * w;
            if (i < n) {
                y[i] = philox_keeps(c[w], threshold) ? x[i] * scale : 0.0f;
            }
        }
    }
}
