package dev.jbert.kernels.cuda;

import dev.jbert.kernels.Buffer;
import dev.jbert.kernels.MatrixLayout;
import dev.jbert.kernels.cuda.CudaKernels.Kernel;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * The CUDA backend's matrix products: cuBLAS GEMMs (one, strided-batched, or batched through a
 * table of matrix addresses), the Linear layers' forward as one cuBLASLt matmul with the bias in its
 * epilogue ({@link BiasMatmul}), the bias gradient as a GEMV, and bf16 mode's rounded copies of the
 * inputs. {@link CudaBackend} checks the buffers before it hands them here.
 */
final class CudaProducts implements AutoCloseable {
    private static final Kernel ROUND_TO_BF16 = new Kernel("elementwise", "round_to_bf16");

    private final CudaBackend backend;
    private final CudaKernels kernels;
    private final Precision precision;
    private final cublasContext blas = new cublasContext();
    private final FloatPointer alpha = new FloatPointer(1);
    private final FloatPointer beta = new FloatPointer(1);
    private final BiasMatmul biasMatmul;
    // a GEMM's A and B rounded to bf16, two to a float
    private final Scratch bf16A;
    private final Scratch bf16B;
    private final Scratch matrixAddresses;   // 8-byte device addresses, two slots each
    private CudaBuffer onesVector;

    CudaProducts(CudaBackend backend, CudaKernels kernels, Precision precision) {
        this.backend = backend;
        this.kernels = kernels;
        this.precision = precision;
        CudaStatus.blas(cublas.cublasCreate_v2(blas), "cublasCreate");
        this.biasMatmul = new BiasMatmul(backend.allocate((int) (BiasMatmul.workspaceBytes() / 4), Buffer.Type.FLOAT32).address);
        this.bf16A = new Scratch(backend, Buffer.Type.FLOAT32);
        this.bf16B = new Scratch(backend, Buffer.Type.FLOAT32);
        this.matrixAddresses = new Scratch(backend, Buffer.Type.INT32);
    }

    /** {@code C [m, n] = alpha op(A) op(B) + beta C}, dense, as {@code Backend.gemm} takes them. */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, CudaBuffer a, CudaBuffer b,
              float beta, CudaBuffer c) {
        boolean bf16 = precision.roundsInputsToBf16();
        denseProduct(transA, transB, m, n, k, alpha, bf16 ? roundedToBf16(a, bf16A) : a,
                bf16 ? roundedToBf16(b, bf16B) : b, beta, c, bf16);
    }

    /**
     * One cuBLASLt matmul whose epilogue adds the bias (see {@link BiasMatmul}); false, having done
     * nothing, where cuBLASLt has no plan or the bias is not 16-byte aligned (the backend then runs the
     * GEMM and addBias). The GEMM's algorithm may differ from {@link #gemm}'s, and with it the
     * rounding, within the GEMM's tolerance.
     */
    boolean linearForward(CudaBuffer x, CudaBuffer weight, CudaBuffer bias, CudaBuffer y, int rows, int out, int in) {
        boolean bf16 = precision.roundsInputsToBf16();
        // in bf16 mode the inputs are rounded copies in scratch, which is 256-byte aligned
        long inputs = bf16 ? 0 : x.address | weight.address;
        BiasMatmul.Plan plan = rows == 0 || out == 0 || in == 0 || bias.address % 16 != 0 ? null
                : biasMatmul.plan(rows, out, in, bf16 ? cudart.CUDA_R_16BF : cudart.CUDA_R_32F,
                        bf16 ? cublas.CUBLAS_COMPUTE_32F : precision.computeType(), BiasMatmul.alignment(inputs | y.address));
        if (plan == null) {
            return false;
        }
        long xAddress = bf16 ? roundedToBf16(x, bf16A).address : x.address;
        long weightAddress = bf16 ? roundedToBf16(weight, bf16B).address : weight.address;
        biasMatmul.run(plan, xAddress, weightAddress, bias.address, y.address, rows, out, in);
        return true;
    }

    /**
     * A Linear layer's backward in bf16 mode ({@code Backend.linearBackward}): its two GEMMs share
     * one rounded copy of dy (of the step's largest tensors: [rows, 3C] for the QKV projection,
     * [rows, I] for the FFN's first); the bias gradient sums dy unrounded.
     */
    void linearBackwardInBf16(CudaBuffer dy, CudaBuffer x, CudaBuffer weight, CudaBuffer dWeight, CudaBuffer dBias,
                              CudaBuffer dx, boolean accumulate, int rows, int out, int in) {
        CudaBuffer roundedDy = roundedToBf16(dy, bf16A);
        denseProduct(true, false, out, in, rows, 1, roundedDy, roundedToBf16(x, bf16B), 1, dWeight, true);
        biasBackward(dy, dBias, rows, out);
        denseProduct(false, false, rows, in, out, 1, roundedDy, roundedToBf16(weight, bf16B), accumulate ? 1 : 0, dx, true);
    }

    /** One GEMM of dense matrices: op(A) {@code [m, k]} times op(B) {@code [k, n]}, from bf16 copies when {@code inBf16}. */
    private void denseProduct(boolean transA, boolean transB, int m, int n, int k, float alpha, CudaBuffer a, CudaBuffer b,
                              float beta, CudaBuffer c, boolean inBf16) {
        multiply(transA, transB, m, n, k, alpha, a.address, MatrixLayout.dense(transA ? k : m, transA ? m : k),
                b.address, MatrixLayout.dense(transB ? n : k, transB ? k : n), beta, c.address, MatrixLayout.dense(m, n), 1, inBf16);
    }

    /**
     * {@code dBias [cols] += dyᵀ 1} for dy {@code [rows, cols]}: a float GEMV (CUDA cores, no
     * tensor-core rounding) over the column-major [cols, rows] that dy is, against a vector of ones;
     * one read of dy, at about copy speed.
     */
    void biasBackward(CudaBuffer dy, CudaBuffer dBias, int rows, int cols) {
        if (rows == 0 || cols == 0) {
            return;
        }
        alpha.put(0, 1f);
        beta.put(0, 1f);
        CudaStatus.blas(cublas.cublasSgemv_v2(blas, cublas.CUBLAS_OP_N, cols, rows, alpha, new FloatPointer(dy.pointer()),
                cols, new FloatPointer(ones(rows).pointer()), 1, beta, new FloatPointer(dBias.pointer()), 1),
                String.format("biasBackward (rows=%d, cols=%d)", rows, cols));
    }

    /** {@code length} ones on the device, kept for the next call. */
    private CudaBuffer ones(int length) {
        if (onesVector == null || onesVector.length() < length) {
            onesVector = backend.allocate(Math.max(length, 1 << 16), Buffer.Type.FLOAT32);
            backend.fill(onesVector, 1f);
        }
        return onesVector.slice(0, length);
    }

    /**
     * cuBLAS is column-major, and a row-major {@code [r, c]} matrix is the column-major
     * {@code [c, r]} matrix, its transpose. So the row-major {@code C = op(A) op(B)} is computed
     * as the column-major {@code C^T = op(B)^T op(A)^T}: the operands swap places, the transpose
     * flags stay, and each leading dimension is the row stride of the stored matrix. Matrices at one
     * stride from each other go to the strided-batched GEMM; others (attention's heads in place,
     * whose groups are further apart than their members) as a table of their addresses. A and B are
     * at device addresses {@code a} and {@code b}, floats or, when {@code inBf16}, bf16; C is floats.
     * In bf16 mode a plain batched GEMM stays tf32 ({@code inBf16} false): see {@code CudaBackend.gemmBatched}.
     */
    void multiply(boolean transA, boolean transB, int m, int n, int k, float alphaValue,
                  long a, MatrixLayout aLayout, long b, MatrixLayout bLayout,
                  float betaValue, long c, MatrixLayout cLayout, int batch, boolean inBf16) {
        if (m == 0 || n == 0) {
            return;
        }
        alpha.put(0, alphaValue);
        beta.put(0, betaValue);
        int opA = transA ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N;
        int opB = transB ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N;
        int lda = Math.max(1, aLayout.rowStride()), ldb = Math.max(1, bLayout.rowStride()), ldc = Math.max(1, cLayout.rowStride());
        int inputType = inBf16 ? cudart.CUDA_R_16BF : cudart.CUDA_R_32F;
        int computeType = inBf16 ? cublas.CUBLAS_COMPUTE_32F : precision.computeType();
        long sa = singleStride(aLayout, batch), sb = singleStride(bLayout, batch), sc = singleStride(cLayout, batch);
        int status;
        if (sa >= 0 && sb >= 0 && sc >= 0) {
            status = cublas.cublasGemmStridedBatchedEx(blas, opB, opA, n, m, k, alpha,
                    new RawPointer(b), inputType, ldb, sb, new RawPointer(a), inputType, lda, sa,
                    beta, new RawPointer(c), cudart.CUDA_R_32F, ldc, sc, batch, computeType, cublas.CUBLAS_GEMM_DEFAULT);
        } else {
            // the addresses of B's matrices, A's, then C's (cuBLAS's order), in device memory
            int inputBytes = inBf16 ? 2 : 4;
            long[] addresses = new long[3 * batch];
            for (int z = 0; z < batch; z++) {
                addresses[z] = b + inputBytes * bLayout.start(z);
                addresses[batch + z] = a + inputBytes * aLayout.start(z);
                addresses[2 * batch + z] = c + 4 * cLayout.start(z);
            }
            CudaBuffer table = matrixAddresses.get(2 * addresses.length);
            backend.enqueueCopyIn(addresses, table);
            status = cublas.cublasGemmBatchedEx(blas, opB, opA, n, m, k, alpha,
                    addressTable(table.address), inputType, ldb, addressTable(table.address + 8L * batch), inputType, lda,
                    beta, addressTable(table.address + 16L * batch), cudart.CUDA_R_32F, ldc, batch, computeType,
                    cublas.CUBLAS_GEMM_DEFAULT);
        }
        CudaStatus.blas(status, String.format("gemm (m=%d, n=%d, k=%d, batch=%d)", m, n, k, batch));
        backend.afterOp("gemm");
    }

    /**
     * A {@code void**} argument that is a device array of addresses. It must go in as a
     * {@link PointerPointer}, which JavaCPP passes as is: a plain {@code Pointer} there goes by
     * reference, one level too deep (cuBLAS then reads a host address as its table: an illegal
     * address on an H200, 2026-11-27; the same trap as kernel arguments, see CudaKernels).
     */
    private static PointerPointer<RawPointer> addressTable(long address) {
        return new PointerPointer<>(new RawPointer(address));
    }

    /** The one distance between consecutive matrices of a layout, or -1 when groups lie further apart than members. */
    private static long singleStride(MatrixLayout layout, int batch) {
        if (layout.perGroup() == 1) {
            return layout.groupStride();
        }
        boolean oneGroup = batch <= layout.perGroup();
        return oneGroup || layout.groupStride() == (long) layout.perGroup() * layout.memberStride() ? layout.memberStride() : -1;
    }

    /** {@code x} rounded to bfloat16 into {@code into}: the same elements, two to each 4-byte slot. */
    CudaBuffer roundedToBf16(CudaBuffer x, Scratch into) {
        CudaBuffer rounded = into.get((x.length() + 1) / 2);
        if (x.length() == 0) {
            return rounded; // no grid to launch (a GEMM of depth 0)
        }
        kernels.launch(ROUND_TO_BF16, backend.grid(x.length()), 1, CudaBackend.THREADS, 1, x, rounded, (long) x.length());
        return rounded;
    }

    @Override
    public void close() {
        biasMatmul.close();
        cublas.cublasDestroy_v2(blas);
        alpha.close();
        beta.close();
    }
}
