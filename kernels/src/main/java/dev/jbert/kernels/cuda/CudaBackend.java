package dev.jbert.kernels.cuda;

import dev.jbert.kernels.AdamW;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import dev.jbert.kernels.MatrixLayout;
import dev.jbert.kernels.ArgumentChecks;
import dev.jbert.kernels.Philox;
import dev.jbert.kernels.cuda.CudaKernels.Kernel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * The GPU backend: buffers in device memory, GEMMs on cuBLAS, every other op a kernel of
 * {@code kernels/src/main/cuda}. Everything is enqueued in order on the default stream and runs
 * asynchronously; {@link #copyOut} and {@link #synchronize} wait. One device (the first), used from
 * one thread at a time.
 *
 * <p>{@link Precision} chooses how GEMMs multiply (fp32, tf32 or bf16 tensor cores); all buffers and
 * all other ops are float32, so parameters, gradients and AdamW's moments are float32 masters in
 * every mode.
 *
 * <p>Errors: every CUDA, driver and cuBLAS status is checked and named. Kernels fail asynchronously,
 * so a fault inside one surfaces at the next waiting call; {@code -Djbert.cuda.sync=true} waits after
 * every op, so the error names the op that caused it.
 */
public final class CudaBackend implements Backend {
    private static final int THREADS = 256;          // block size of the elementwise kernels
    private static final int ROWS_PER_BLOCK = 8;     // warps per block of the row kernels (one row each)
    private static final int ROWS_PER_CHUNK = 256;   // rows summed by one block of column_partials
    private static final int NORM_BLOCKS = 1024;     // fixed, so the norm's sum has a fixed order
    private static final int STAGING_BYTES = 16 << 20;

    private static final Kernel FILL = new Kernel("elementwise", "fill");
    private static final Kernel ADD = new Kernel("elementwise", "add");
    private static final Kernel SUBTRACT = new Kernel("elementwise", "subtract");
    private static final Kernel ADD_BIAS = new Kernel("elementwise", "add_bias");
    private static final Kernel SWAP_MIDDLE_AXES = new Kernel("elementwise", "swap_middle_axes");
    private static final Kernel GELU_FORWARD = new Kernel("elementwise", "gelu_forward");
    private static final Kernel GELU_BACKWARD = new Kernel("elementwise", "gelu_backward");
    private static final Kernel DROPOUT = new Kernel("elementwise", "dropout");
    private static final Kernel ROUND_TO_BF16 = new Kernel("elementwise", "round_to_bf16");
    private static final Kernel LAYER_NORM_FORWARD = new Kernel("normalization", "layer_norm_forward");
    private static final Kernel LAYER_NORM_BACKWARD = new Kernel("normalization", "layer_norm_backward");
    private static final Kernel LAYER_NORM_BACKWARD_FUSED = new Kernel("normalization", "layer_norm_backward_fused");
    /**
     * The widest rows, the rows per block and the threads per block of the fused LayerNorm backward
     * (normalization.cu's FUSED_COLUMNS, FUSED_ROWS_PER_CHUNK, FUSED_WARPS x 32).
     */
    private static final int FUSED_LAYER_NORM_COLUMNS = 1024, FUSED_LAYER_NORM_ROWS = 64, FUSED_LAYER_NORM_THREADS = 128;
    private static final Kernel COLUMN_PARTIALS = new Kernel("normalization", "column_partials");
    private static final Kernel COLUMN_FINISH = new Kernel("normalization", "column_finish");
    private static final Kernel SOFTMAX_FORWARD = new Kernel("softmax", "attention_softmax_forward");
    private static final Kernel SOFTMAX_BACKWARD = new Kernel("softmax", "attention_softmax_backward");
    private static final Kernel SOFTMAX_DROPOUT_FORWARD = new Kernel("softmax", "attention_softmax_dropout_forward");
    private static final Kernel DROPOUT_SOFTMAX_BACKWARD = new Kernel("softmax", "attention_dropout_softmax_backward");
    // the same three, writing bf16 for bf16 mode's attention products
    private static final Kernel SOFTMAX_FORWARD_BF16 = new Kernel("softmax", "attention_softmax_forward_bf16");
    private static final Kernel SOFTMAX_DROPOUT_FORWARD_BF16 = new Kernel("softmax", "attention_softmax_dropout_forward_bf16");
    private static final Kernel DROPOUT_SOFTMAX_BACKWARD_BF16 = new Kernel("softmax", "attention_dropout_softmax_backward_bf16");
    /** The longest row the two fused softmax-and-dropout kernels take (MAX_TOKENS in softmax.cu). */
    private static final int FUSED_SOFTMAX_TOKENS = 512;
    private static final Kernel CROSS_ENTROPY_FORWARD = new Kernel("softmax", "cross_entropy_forward");
    private static final Kernel CROSS_ENTROPY_BACKWARD = new Kernel("softmax", "cross_entropy_backward");
    private static final Kernel EMBEDDING_FORWARD = new Kernel("embedding", "embedding_forward");
    private static final Kernel EMBEDDING_BACKWARD = new Kernel("embedding", "embedding_backward");
    private static final Kernel ADAMW = new Kernel("optimizer", "adamw");
    private static final Kernel SQUARES_PARTIALS = new Kernel("optimizer", "sum_of_squares_partials");
    private static final Kernel SQUARES_FINISH = new Kernel("optimizer", "sum_of_squares_finish");
    private static final Kernel CLIP = new Kernel("optimizer", "clip_by_global_norm");

    private final Precision precision;
    private final boolean syncEachOp = Boolean.getBoolean("jbert.cuda.sync");
    private final String deviceName;
    private final int multiprocessors;
    private final cublasContext blas;
    private final CudaKernels kernels;
    private final FloatPointer alpha = new FloatPointer(1);
    private final FloatPointer beta = new FloatPointer(1);
    private final BytePointer staging = new BytePointer(STAGING_BYTES); // host side of copies
    private final List<Long> allocations = new ArrayList<>();
    private final List<IntUpload> intUploads = new ArrayList<>();
    private long allocatedBytes;
    private final Scratch columnPartials = new Scratch(Buffer.Type.FLOAT32);
    // bf16 copies, two to a float: a GEMM's A and B (attention's Q, K, V: all three in bf16A where they
    // share one projection, else one each), attention's dContext, its probabilities and their gradient
    private final Scratch bf16A = new Scratch(Buffer.Type.FLOAT32);
    private final Scratch bf16B = new Scratch(Buffer.Type.FLOAT32);
    private final Scratch bf16C = new Scratch(Buffer.Type.FLOAT32);
    private final Scratch bf16Context = new Scratch(Buffer.Type.FLOAT32);
    private final Scratch bf16Probs = new Scratch(Buffer.Type.FLOAT32);
    private final Scratch bf16DScores = new Scratch(Buffer.Type.FLOAT32);
    private final Scratch embeddingSegments = new Scratch(Buffer.Type.INT32);
    private final Scratch matrixAddresses = new Scratch(Buffer.Type.INT32);   // 8-byte device addresses, two slots each
    private CudaBuffer normPartials;  // NORM_BLOCKS doubles (2 floats each)
    private final BiasMatmul biasMatmul;
    private CudaBuffer onesVector;
    private boolean closed;

    /**
     * Opens the first CUDA device. Fails with a {@link CudaException} naming the call when CUDA
     * is missing or broken; ask {@link Cuda#unavailableReason()} first to fall back quietly.
     */
    public CudaBackend(Precision precision) {
        Cuda.unavailableReason().ifPresent(reason -> {
            throw new CudaException("the CUDA backend cannot start: " + reason);
        });
        this.precision = precision;
        CudaStatus.runtime(cudart.cudaSetDevice(0), "cudaSetDevice(0)");
        CudaStatus.runtime(cudart.cudaFree((Pointer) null), "creating the CUDA context");
        CUctx_st context = new CUctx_st();
        CudaStatus.driver(cudart.cuCtxGetCurrent(context), "cuCtxGetCurrent");
        byte[] name = new byte[256];
        CudaStatus.driver(cudart.cuDeviceGetName(name, name.length, 0), "cuDeviceGetName");
        this.deviceName = new String(name, StandardCharsets.US_ASCII).trim().replace("\0", "");
        int[] count = new int[1];
        CudaStatus.runtime(cudart.cudaDeviceGetAttribute(count, cudart.cudaDevAttrMultiProcessorCount, 0),
                "cudaDeviceGetAttribute(multiprocessors)");
        this.multiprocessors = count[0];
        this.blas = new cublasContext();
        CudaStatus.blas(cublas.cublasCreate_v2(blas), "cublasCreate");
        this.kernels = new CudaKernels(context);
        this.normPartials = allocate(2 * NORM_BLOCKS, Buffer.Type.FLOAT32);
        this.biasMatmul = new BiasMatmul(allocate((int) (BiasMatmul.workspaceBytes() / 4), Buffer.Type.FLOAT32).address);
    }

    @Override
    public String name() {
        return "cuda (" + deviceName + ", " + precision.label() + " GEMMs)";
    }

    public Precision precision() {
        return precision;
    }

    /** The device's memory, all of it (cudaMemGetInfo's total). */
    @Override
    public long memoryCapacity() {
        try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
            CudaStatus.runtime(cudart.cudaMemGetInfo(free, total), "cudaMemGetInfo");
            return total.get();
        }
    }

    /** Device memory this backend has allocated so far (it frees only on close, so this is also its peak). */
    public long allocatedBytes() {
        return allocatedBytes;
    }

    // ---- memory --------------------------------------------------------------------------------

    @Override
    public Buffer allocateFloats(int length) {
        return allocate(length, Buffer.Type.FLOAT32);
    }

    @Override
    public Buffer allocateInts(int length) {
        return allocate(length, Buffer.Type.INT32);
    }

    private CudaBuffer allocate(int length, Buffer.Type type) {
        if (length < 0) {
            throw new IllegalArgumentException("buffer length must not be negative: " + length);
        }
        long bytes = 4L * Math.max(1, length);
        Pointer memory = new Pointer();
        CudaStatus.runtime(cudart.cudaMalloc(memory, bytes), "cudaMalloc(" + bytes + " bytes)");
        allocations.add(memory.address());
        allocatedBytes += bytes;
        CudaStatus.runtime(cudart.cudaMemsetAsync(memory, 0, bytes), "cudaMemsetAsync");
        return new CudaBuffer(this, memory.address(), type, length);
    }

    @Override
    public void copyIn(float[] source, Buffer target) {
        CudaBuffer t = floats(target, source.length, "target");
        FloatPointer host = new FloatPointer(staging);
        throughStaging(t, source.length, true, (first, count) -> host.position(0).put(source, first, count));
    }

    /**
     * What a {@link #copyIn(int[], Buffer)} wrote to a region of device memory: a copy of the values,
     * and the smallest and largest. No op writes int buffers, so the record stays true until the next
     * upload over it, and the index checks and the embedding backward's sort can use it instead of
     * reading the ids back (a read would make the host wait for the GPU several times a step).
     */
    private record IntUpload(long address, int[] values, int min, int max) {
        long end() {
            return address + 4L * values.length;
        }

        boolean covers(CudaBuffer buffer) {
            return buffer.address >= address && buffer.address + 4L * buffer.length() <= end();
        }
    }

    @Override
    public void copyIn(int[] source, Buffer target) {
        CudaBuffer t = ints(target, source.length, "target");
        int min = Integer.MAX_VALUE;
        int max = Integer.MIN_VALUE;
        for (int value : source) {
            min = Math.min(min, value);
            max = Math.max(max, value);
        }
        long end = t.address + 4L * t.length();
        intUploads.removeIf(upload -> upload.address() < end && t.address < upload.end());
        intUploads.add(new IntUpload(t.address, source.clone(), min, max));
        IntPointer host = new IntPointer(staging);
        throughStaging(t, source.length, true, (first, count) -> host.position(0).put(source, first, count));
    }

    /**
     * Enqueues a copy of {@code source} into {@code target} behind the ops already queued, without
     * waiting for them: from pageable memory, cudaMemcpyAsync copies the values into a staging
     * buffer of the driver before it returns, so {@link #staging} may be refilled at once.
     */
    private void enqueueCopyIn(int[] source, CudaBuffer target) {
        enqueueStaged(4L * source.length, target, () -> new IntPointer(staging).put(source, 0, source.length));
    }

    /** The same for 8-byte values (device addresses). */
    private void enqueueCopyIn(long[] source, CudaBuffer target) {
        enqueueStaged(8L * source.length, target, () -> new LongPointer(staging).put(source, 0, source.length));
    }

    private void enqueueStaged(long bytes, CudaBuffer target, Runnable fillStaging) {
        if (bytes > STAGING_BYTES || bytes > 4L * target.length()) {
            throw new IllegalArgumentException("enqueueCopyIn: " + bytes + " bytes exceed the staging buffer or the target");
        }
        fillStaging.run();
        CudaStatus.runtime(cudart.cudaMemcpyAsync(target.pointer(), staging, bytes, cudart.cudaMemcpyHostToDevice),
                "copyIn (cudaMemcpyAsync)");
    }

    @Override
    public void copyOut(Buffer source, float[] target) {
        CudaBuffer s = floats(source, target.length, "source");
        FloatPointer host = new FloatPointer(staging);
        throughStaging(s, target.length, false, (first, count) -> host.position(0).get(target, first, count));
    }

    @Override
    public void copyOut(Buffer source, int[] target) {
        CudaBuffer s = ints(source, target.length, "source");
        IntPointer host = new IntPointer(staging);
        throughStaging(s, target.length, false, (first, count) -> host.position(0).get(target, first, count));
    }

    /** Moves elements {@code [first, first + count)} between a Java array and the staging buffer. */
    @FunctionalInterface
    private interface StagingChunk {
        void move(int first, int count);
    }

    /**
     * Copies {@code length} elements between {@code device} and a Java array, one staging-buffer
     * chunk at a time: to the device, {@code chunk} fills the staging buffer and cudaMemcpy sends it;
     * from the device, cudaMemcpy (which waits for the ops before it) fills it and {@code chunk}
     * empties it.
     */
    private void throughStaging(CudaBuffer device, int length, boolean toDevice, StagingChunk chunk) {
        int chunkLength = STAGING_BYTES / 4;
        for (int first = 0; first < length; first += chunkLength) {
            int count = Math.min(chunkLength, length - first);
            RawPointer at = new RawPointer(device.address + 4L * first);
            if (toDevice) {
                chunk.move(first, count);
                CudaStatus.runtime(cudart.cudaMemcpy(at, staging, 4L * count, cudart.cudaMemcpyHostToDevice),
                        "copyIn (cudaMemcpy)");
            } else {
                CudaStatus.runtime(cudart.cudaMemcpy(staging, at, 4L * count, cudart.cudaMemcpyDeviceToHost),
                        "copyOut (cudaMemcpy; or an earlier op's kernel)");
                chunk.move(first, count);
            }
        }
    }

    @Override
    public void copy(Buffer source, Buffer target) {
        CudaBuffer s = floats(source, -1, "source");
        CudaBuffer t = floats(target, s.length(), "target");
        CudaStatus.runtime(cudart.cudaMemcpyAsync(t.pointer(), s.pointer(), 4L * s.length(),
                cudart.cudaMemcpyDeviceToDevice), "copy (cudaMemcpyAsync)");
        afterOp("copy");
    }

    @Override
    public void fill(Buffer target, float value) {
        CudaBuffer t = floats(target, -1, "target");
        if (Float.floatToRawIntBits(value) == 0) {
            CudaStatus.runtime(cudart.cudaMemsetAsync(t.pointer(), 0, 4L * t.length()), "fill (cudaMemsetAsync)");
        } else {
            kernels.launch(FILL, grid(t.length()), 1, THREADS, 1, t, value, (long) t.length());
        }
        afterOp("fill");
    }

    @Override
    public void synchronize() {
        CudaStatus.runtime(cudart.cudaDeviceSynchronize(), "synchronize (an earlier op's kernel)");
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        cudart.cudaDeviceSynchronize();
        kernels.close();
        biasMatmul.close();
        cublas.cublasDestroy_v2(blas);
        for (long address : allocations) {
            cudart.cudaFree(new RawPointer(address));
        }
        allocations.clear();
        alpha.close();
        beta.close();
        staging.close();
    }

    // ---- matrix products ------------------------------------------------------------------------

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k,
                     float alpha, Buffer a, Buffer b, float beta, Buffer c) {
        CudaBuffer ca = floats(a, m * k, "a"), cb = floats(b, k * n, "b"), cc = floats(c, m * n, "c");
        boolean bf16 = precision.roundsInputsToBf16();
        denseProduct(transA, transB, m, n, k, alpha, bf16 ? roundedToBf16(ca, bf16A) : ca,
                bf16 ? roundedToBf16(cb, bf16B) : cb, beta, cc, bf16);
    }

    /**
     * In bf16 mode, the two GEMMs of {@link Backend#linearBackward} share one rounded copy of dy
     * (of the step's largest tensors: [rows, 3C] for the QKV projection, [rows, I] for the FFN's first).
     */
    @Override
    public void linearBackward(Buffer dy, Buffer x, Buffer weight, Buffer dWeight, Buffer dBias, Buffer dx,
                               boolean accumulate, int rows, int out, int in) {
        if (!precision.roundsInputsToBf16()) {
            Backend.super.linearBackward(dy, x, weight, dWeight, dBias, dx, accumulate, rows, out, in);
            return;
        }
        CudaBuffer cdy = floats(dy, rows * out, "dy"), cx = floats(x, rows * in, "x"), cw = floats(weight, out * in, "weight");
        CudaBuffer cdw = floats(dWeight, out * in, "dWeight"), cdx = floats(dx, rows * in, "dx");
        CudaBuffer roundedDy = roundedToBf16(cdy, bf16A);
        denseProduct(true, false, out, in, rows, 1, roundedDy, roundedToBf16(cx, bf16B), 1, cdw, true);
        biasBackward(dy, dBias, rows, out);
        denseProduct(false, false, rows, in, out, 1, roundedDy, roundedToBf16(cw, bf16B), accumulate ? 1 : 0, cdx, true);
    }

    /** One GEMM of dense matrices: op(A) {@code [m, k]} times op(B) {@code [k, n]}, from bf16 copies when {@code inBf16}. */
    private void denseProduct(boolean transA, boolean transB, int m, int n, int k, float alpha, CudaBuffer a, CudaBuffer b,
                              float beta, CudaBuffer c, boolean inBf16) {
        multiply(transA, transB, m, n, k, alpha, a.address, MatrixLayout.dense(transA ? k : m, transA ? m : k),
                b.address, MatrixLayout.dense(transB ? n : k, transB ? k : n), beta, c.address, MatrixLayout.dense(m, n), 1, inBf16);
    }

    /**
     * One cuBLASLt matmul whose epilogue adds the bias (see {@link BiasMatmul}); a GEMM and addBias
     * where cuBLASLt has no plan or the bias is not 16-byte aligned. The GEMM's algorithm may differ
     * from {@link #gemm}'s, and with it the rounding, within the GEMM's tolerance.
     */
    @Override
    public void linearForward(Buffer x, Buffer weight, Buffer bias, Buffer y, int rows, int out, int in) {
        CudaBuffer cx = floats(x, rows * in, "x"), cw = floats(weight, out * in, "weight");
        CudaBuffer cb = floats(bias, out, "bias"), cy = floats(y, rows * out, "y");
        boolean bf16 = precision.roundsInputsToBf16();
        // in bf16 mode the inputs are rounded copies in scratch, which is 256-byte aligned
        long inputs = bf16 ? 0 : cx.address | cw.address;
        BiasMatmul.Plan plan = rows == 0 || out == 0 || in == 0 || cb.address % 16 != 0 ? null
                : biasMatmul.plan(rows, out, in, bf16 ? cudart.CUDA_R_16BF : cudart.CUDA_R_32F,
                        bf16 ? cublas.CUBLAS_COMPUTE_32F : precision.computeType(), BiasMatmul.alignment(inputs | cy.address));
        if (plan == null) {
            Backend.super.linearForward(x, weight, bias, y, rows, out, in);
            return;
        }
        if (bf16) {
            cx = roundedToBf16(cx, bf16A);
            cw = roundedToBf16(cw, bf16B);
        }
        biasMatmul.run(plan, cx.address, cw.address, cb.address, cy.address, rows, out, in);
        afterOp("linearForward");
    }

    /**
     * In bf16 mode this op stays tf32: rounding its float inputs, which include the {@code [B, H, T, T]}
     * probabilities, costs more than the bf16 multiply saves (on an H200: 38 against 90 TFLOP/s for P V).
     * The fused attention ops multiply in bf16 instead, their softmax kernels writing bf16 directly.
     */
    @Override
    public void gemmBatched(boolean transA, boolean transB, int m, int n, int k, float alpha,
                            Buffer a, MatrixLayout aLayout, Buffer b, MatrixLayout bLayout,
                            float beta, Buffer c, MatrixLayout cLayout, int batch) {
        CudaBuffer ca = floats(a, -1, "a"), cb = floats(b, -1, "b"), cc = floats(c, -1, "c");
        ArgumentChecks.batchedGemm(transA, transB, m, n, k, ca, aLayout, cb, bLayout, cc, cLayout, batch);
        multiply(transA, transB, m, n, k, alpha, ca.address, aLayout, cb.address, bLayout, beta, cc.address, cLayout, batch, false);
    }

    /**
     * cuBLAS is column-major, and a row-major {@code [r, c]} matrix is the column-major
     * {@code [c, r]} matrix, its transpose. So the row-major {@code C = op(A) op(B)} is computed
     * as the column-major {@code C^T = op(B)^T op(A)^T}: the operands swap places, the transpose
     * flags stay, and each leading dimension is the row stride of the stored matrix. Matrices at one
     * stride from each other go to the strided-batched GEMM; others (attention's heads in place,
     * whose groups are further apart than their members) as a table of their addresses. A and B are
     * at device addresses {@code a} and {@code b}, floats or, when {@code inBf16}, bf16; C is floats.
     */
    private void multiply(boolean transA, boolean transB, int m, int n, int k, float alphaValue,
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
            enqueueCopyIn(addresses, table);
            status = cublas.cublasGemmBatchedEx(blas, opB, opA, n, m, k, alpha,
                    addressTable(table.address), inputType, ldb, addressTable(table.address + 8L * batch), inputType, lda,
                    beta, addressTable(table.address + 16L * batch), cudart.CUDA_R_32F, ldc, batch, computeType,
                    cublas.CUBLAS_GEMM_DEFAULT);
        }
        CudaStatus.blas(status, String.format("gemm (m=%d, n=%d, k=%d, batch=%d)", m, n, k, batch));
        afterOp("gemm");
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
    private CudaBuffer roundedToBf16(CudaBuffer x, Scratch into) {
        CudaBuffer rounded = into.get((x.length() + 1) / 2);
        if (x.length() == 0) {
            return rounded; // no grid to launch (a GEMM of depth 0)
        }
        kernels.launch(ROUND_TO_BF16, grid(x.length()), 1, THREADS, 1, x, rounded, (long) x.length());
        return rounded;
    }

    // ---- elementwise and layout ---------------------------------------------------------------

    @Override
    public void addBias(Buffer x, Buffer bias, int rows, int cols) {
        CudaBuffer cx = floats(x, rows * cols, "x");
        kernels.launch(ADD_BIAS, grid(cx.length()), 1, THREADS, 1, cx, floats(bias, cols, "bias"), (long) rows, cols);
        afterOp("addBias");
    }

    @Override
    public void biasBackward(Buffer dy, Buffer dBias, int rows, int cols) {
        CudaBuffer cy = floats(dy, rows * cols, "dy"), cb = floats(dBias, cols, "dBias");
        if (rows == 0 || cols == 0) {
            return;
        }
        // dBias += dyᵀ 1: a float GEMV (CUDA cores, no tensor-core rounding) over the column-major
        // [cols, rows] that dy is, against a vector of ones; one read of dy, at about copy speed
        alpha.put(0, 1f);
        beta.put(0, 1f);
        CudaStatus.blas(cublas.cublasSgemv_v2(blas, cublas.CUBLAS_OP_N, cols, rows, alpha, new FloatPointer(cy.pointer()),
                cols, new FloatPointer(ones(rows).pointer()), 1, beta, new FloatPointer(cb.pointer()), 1),
                String.format("biasBackward (rows=%d, cols=%d)", rows, cols));
        afterOp("biasBackward");
    }

    /** {@code length} ones on the device, kept for the next call. */
    private CudaBuffer ones(int length) {
        if (onesVector == null || onesVector.length() < length) {
            onesVector = allocate(Math.max(length, 1 << 16), Buffer.Type.FLOAT32);
            fill(onesVector, 1f);
        }
        return onesVector.slice(0, length);
    }

    @Override
    public void add(Buffer a, Buffer b, Buffer out) {
        elementwise(ADD, a, b, out, "add");
    }

    @Override
    public void subtract(Buffer a, Buffer b, Buffer out) {
        elementwise(SUBTRACT, a, b, out, "subtract");
    }

    /** out = a op b element by element, one thread per element: the kernel decides the op. */
    private void elementwise(Kernel kernel, Buffer a, Buffer b, Buffer out, String op) {
        CudaBuffer co = floats(out, -1, "out");
        kernels.launch(kernel, grid(co.length()), 1, THREADS, 1, floats(a, co.length(), "a"), floats(b, co.length(), "b"),
                co, (long) co.length());
        afterOp(op);
    }

    @Override
    public void swapMiddleAxes(Buffer x, Buffer y, int d0, int d1, int d2, int d3) {
        int length = d0 * d1 * d2 * d3;
        // about 64 blocks per multiprocessor in all: rows along y, each row's chunks along x
        long rows = Math.max(1, (long) d0 * d1);
        int gridY = (int) Math.min(rows, 65535);
        long chunks = Math.max(1, ((long) d2 * d3 + THREADS - 1) / THREADS);
        int gridX = (int) Math.min(chunks, Math.max(1, 64L * multiprocessors / gridY));
        kernels.launch(SWAP_MIDDLE_AXES, length == 0 ? 0 : gridX, gridY, THREADS, 1,
                floats(x, length, "x"), floats(y, length, "y"), d0, d1, d2, d3);
        afterOp("swapMiddleAxes");
    }

    @Override
    public void geluForward(Buffer x, Buffer y) {
        CudaBuffer cx = floats(x, -1, "x");
        kernels.launch(GELU_FORWARD, grid(cx.length()), 1, THREADS, 1, cx, floats(y, cx.length(), "y"),
                (long) cx.length());
        afterOp("geluForward");
    }

    @Override
    public void geluBackward(Buffer x, Buffer dy, Buffer dx) {
        CudaBuffer cx = floats(x, -1, "x");
        kernels.launch(GELU_BACKWARD, grid(cx.length()), 1, THREADS, 1, cx, floats(dy, cx.length(), "dy"),
                floats(dx, cx.length(), "dx"), (long) cx.length());
        afterOp("geluBackward");
    }

    @Override
    public void dropout(Buffer x, Buffer y, float p, long seed, long stream) {
        Philox.checkProbability(p);
        CudaBuffer cx = floats(x, -1, "x");
        long blocks = (cx.length() + 31L) / 32 * Philox.BLOCKS_PER_TILE; // one thread per Philox block
        kernels.launch(DROPOUT, grid(blocks), 1, THREADS, 1, cx, floats(y, cx.length(), "y"), (long) cx.length(),
                Philox.keepThreshold(p), 1 / (1 - p), seed, stream);
        afterOp("dropout");
    }

    // ---- normalization ------------------------------------------------------------------------

    @Override
    public void layerNormForward(Buffer x, Buffer gamma, Buffer beta, Buffer y, Buffer mean,
                                 Buffer rstd, int rows, int cols, float eps) {
        kernels.launch(LAYER_NORM_FORWARD, rowGrid(rows), 1, 32, ROWS_PER_BLOCK, floats(x, rows * cols, "x"),
                floats(gamma, cols, "gamma"), floats(beta, cols, "beta"), floats(y, rows * cols, "y"),
                floats(mean, rows, "mean"), floats(rstd, rows, "rstd"), rows, cols, eps);
        afterOp("layerNormForward");
    }

    @Override
    public void layerNormBackward(Buffer dy, Buffer x, Buffer gamma, Buffer mean, Buffer rstd,
                                  Buffer dx, Buffer dGamma, Buffer dBeta, int rows, int cols) {
        CudaBuffer cdy = floats(dy, rows * cols, "dy");
        CudaBuffer cx = floats(x, rows * cols, "x");
        CudaBuffer cMean = floats(mean, rows, "mean");
        CudaBuffer cRstd = floats(rstd, rows, "rstd");
        CudaBuffer cGamma = floats(gamma, cols, "gamma"), cdx = floats(dx, rows * cols, "dx");
        CudaBuffer cdBeta = floats(dBeta, cols, "dBeta"), cdGamma = floats(dGamma, cols, "dGamma");
        if (rows == 0 || cols == 0) {
            return;
        }
        if (cols <= FUSED_LAYER_NORM_COLUMNS) {
            // one pass: dx and each chunk's column sums, then the chunks' sums added in order
            int chunks = (rows + FUSED_LAYER_NORM_ROWS - 1) / FUSED_LAYER_NORM_ROWS;
            CudaBuffer partials = columnPartials.get(2 * chunks * cols);
            CudaBuffer partialDy = partials.slice(0, chunks * cols), partialDyXhat = partials.slice(chunks * cols, chunks * cols);
            kernels.launch(LAYER_NORM_BACKWARD_FUSED, chunks, 1, FUSED_LAYER_NORM_THREADS, 1, cdy, cx, cGamma, cMean, cRstd, cdx,
                    partialDy, partialDyXhat, rows, cols);
            finishColumnSums(partialDy, partialDyXhat, cdBeta, cdGamma, chunks, cols);
        } else {
            // the parameter gradients first: dx may alias dy
            columnSums(cdy, cx, cMean, cRstd, cdBeta, cdGamma, rows, cols);
            kernels.launch(LAYER_NORM_BACKWARD, rowGrid(rows), 1, 32, ROWS_PER_BLOCK, cdy, cx, cGamma, cMean, cRstd, cdx,
                    rows, cols);
        }
        afterOp("layerNormBackward");
    }

    /**
     * LayerNorm's parameter gradients, {@code dBeta[c] += sum over rows of dy[r, c]} and
     * {@code dGamma[c] += sum over rows of dy[r, c] * xhat[r, c]}: per-chunk partial sums into the
     * scratch buffer, then the chunks added in order (deterministic, no atomics).
     */
    private void columnSums(CudaBuffer dy, CudaBuffer x, CudaBuffer mean, CudaBuffer rstd,
                            CudaBuffer dBeta, CudaBuffer dGamma, int rows, int cols) {
        int chunks = (rows + ROWS_PER_CHUNK - 1) / ROWS_PER_CHUNK;
        CudaBuffer partials = columnPartials.get(2 * chunks * cols);
        CudaBuffer partialDy = partials.slice(0, chunks * cols);
        CudaBuffer partialDyXhat = partials.slice(chunks * cols, chunks * cols);
        kernels.launch(COLUMN_PARTIALS, (cols + 31) / 32, chunks, 32, 32, dy, x, mean, rstd, partialDy, partialDyXhat,
                rows, cols, ROWS_PER_CHUNK);
        finishColumnSums(partialDy, partialDyXhat, dBeta, dGamma, chunks, cols);
    }

    /** dBeta += the chunks' sums of dy, dGamma += of dy * xhat, chunk by chunk in order. */
    private void finishColumnSums(CudaBuffer partialDy, CudaBuffer partialDyXhat, CudaBuffer dBeta, CudaBuffer dGamma,
                                  int chunks, int cols) {
        kernels.launch(COLUMN_FINISH, (cols + THREADS - 1) / THREADS, 1, THREADS, 1, partialDy, dBeta, chunks, cols);
        kernels.launch(COLUMN_FINISH, (cols + THREADS - 1) / THREADS, 1, THREADS, 1, partialDyXhat, dGamma, chunks, cols);
    }

    // ---- attention ----------------------------------------------------------------------------

    @Override
    public void attentionSoftmaxForward(Buffer scores, Buffer mask, Buffer probs, int batch,
                                        int heads, int tokens, float scale) {
        int length = batch * heads * tokens * tokens;
        int rows = batch * heads * tokens;
        kernels.launch(SOFTMAX_FORWARD, rowGrid(rows), 1, 32, ROWS_PER_BLOCK, floats(scores, length, "scores"),
                ints(mask, batch * tokens, "mask"), floats(probs, length, "probs"), rows, heads, tokens, scale);
        afterOp("attentionSoftmaxForward");
    }

    /** Fused: one pass per row for rows of up to 512 tokens (see {@link #attentionDropoutSoftmaxBackward}). */
    @Override
    public void attentionSoftmaxDropoutForward(Buffer scores, Buffer mask, Buffer probs, Buffer probsDropped,
                                               int batch, int heads, int tokens, float scale,
                                               float p, long seed, long stream) {
        if (tokens > FUSED_SOFTMAX_TOKENS) {
            Backend.super.attentionSoftmaxDropoutForward(scores, mask, probs, probsDropped, batch, heads, tokens,
                    scale, p, seed, stream);
            return;
        }
        Philox.checkProbability(p);
        int length = batch * heads * tokens * tokens;
        int rows = batch * heads * tokens;
        kernels.launch(SOFTMAX_DROPOUT_FORWARD, rowGrid(rows), 1, 32, ROWS_PER_BLOCK, floats(scores, length, "scores"),
                ints(mask, batch * tokens, "mask"), floats(probs, length, "probs"), floats(probsDropped, length, "probsDropped"),
                rows, heads, tokens, scale, Philox.keepThreshold(p), 1 / (1 - p), seed, stream);
        afterOp("attentionSoftmaxDropoutForward");
    }

    @Override
    public void attentionSoftmaxBackward(Buffer probs, Buffer dProbs, Buffer dScores, int batch,
                                         int heads, int tokens, float scale) {
        int length = batch * heads * tokens * tokens;
        int rows = batch * heads * tokens;
        kernels.launch(SOFTMAX_BACKWARD, rowGrid(rows), 1, 32, ROWS_PER_BLOCK, floats(probs, length, "probs"),
                floats(dProbs, length, "dProbs"), floats(dScores, length, "dScores"), rows, tokens, scale);
        afterOp("attentionSoftmaxBackward");
    }

    /**
     * Fused: one pass per row, the mask drawn again in the kernel (see
     * {@link Backend#attentionDropoutSoftmaxBackward}), for rows of up to 512 tokens, whose values the
     * kernel holds in registers; longer rows as the three ops.
     */
    @Override
    public void attentionDropoutSoftmaxBackward(Buffer probs, Buffer dDropped, Buffer probsDropped, Buffer dScores,
                                                int batch, int heads, int tokens, float scale,
                                                float p, long seed, long stream) {
        if (tokens > FUSED_SOFTMAX_TOKENS) {
            Backend.super.attentionDropoutSoftmaxBackward(probs, dDropped, probsDropped, dScores, batch, heads, tokens,
                    scale, p, seed, stream);
            return;
        }
        Philox.checkProbability(p);
        int length = batch * heads * tokens * tokens;
        int rows = batch * heads * tokens;
        kernels.launch(DROPOUT_SOFTMAX_BACKWARD, rowGrid(rows), 1, 32, ROWS_PER_BLOCK, floats(probs, length, "probs"),
                floats(dDropped, length, "dDropped"), floats(probsDropped, length, "probsDropped"),
                floats(dScores, length, "dScores"), rows, tokens, scale, Philox.keepThreshold(p), 1 / (1 - p), seed, stream);
        afterOp("attentionDropoutSoftmaxBackward");
    }

    // ---- attention in bf16 mode: the products on bf16 copies -------------------------------------
    //
    // The fused attention ops, in bf16 mode and for rows the fused softmax kernels take, multiply bf16
    // copies: Q, K and V rounded once per op (one pass over the projection that holds all three),
    // dContext once, and the probabilities and their gradient written as bf16 by the softmax kernels
    // themselves, so the [B, H, T, T] tensors the products read are half as large. The float probs
    // the backward needs are still written; probsDropped and dScores (float) are left alone.

    private boolean bf16Attention(int tokens) {
        return precision.roundsInputsToBf16() && tokens <= FUSED_SOFTMAX_TOKENS;
    }

    @Override
    public void attentionEvaluation(Buffer q, Buffer k, Buffer v, MatrixLayout heads, Buffer mask, Buffer context,
                                    MatrixLayout contextHeads, Buffer scores, int batch, int headCount, int tokens,
                                    int headDim, float scale) {
        if (!bf16Attention(tokens)) {
            Backend.super.attentionEvaluation(q, k, v, heads, mask, context, contextHeads, scores, batch, headCount,
                    tokens, headDim, scale);
            return;
        }
        int rows = batch * headCount * tokens;
        CudaBuffer cs = floats(scores, rows * tokens, "scores"), cm = ints(mask, batch * tokens, "mask");
        attentionForwardInBf16(q, k, v, heads, cs, context, contextHeads, batch * headCount, tokens, headDim,
                probs -> kernels.launch(SOFTMAX_FORWARD_BF16, rowGrid(rows), 1, 32, ROWS_PER_BLOCK, cs, cm, probs,
                        rows, headCount, tokens, scale));
        afterOp("attentionEvaluation");
    }

    @Override
    public void attentionTrainingForward(Buffer q, Buffer k, Buffer v, MatrixLayout heads, Buffer mask, Buffer probs,
                                         Buffer probsDropped, Buffer context, MatrixLayout contextHeads,
                                         int batch, int headCount, int tokens, int headDim, float scale,
                                         float p, long seed, long stream) {
        if (!bf16Attention(tokens)) {
            Backend.super.attentionTrainingForward(q, k, v, heads, mask, probs, probsDropped, context, contextHeads, batch,
                    headCount, tokens, headDim, scale, p, seed, stream);
            return;
        }
        Philox.checkProbability(p);
        int rows = batch * headCount * tokens;
        CudaBuffer cp = floats(probs, rows * tokens, "probs"), cm = ints(mask, batch * tokens, "mask");
        attentionForwardInBf16(q, k, v, heads, cp, context, contextHeads, batch * headCount, tokens, headDim,
                dropped -> kernels.launch(SOFTMAX_DROPOUT_FORWARD_BF16, rowGrid(rows), 1, 32, ROWS_PER_BLOCK, cp, cm, cp,
                        dropped, rows, headCount, tokens, scale, Philox.keepThreshold(p), 1 / (1 - p), seed, stream));
        afterOp("attentionTrainingForward");
    }

    /**
     * The two forwards' common part: {@code scores = Q Kᵀ} (float, [matrices, T, T]) from bf16 copies,
     * then {@code softmax}, which turns the scores into the bf16 matrices P it is given (and may
     * write the float probabilities over the scores), then {@code context = P V}.
     */
    private void attentionForwardInBf16(Buffer q, Buffer k, Buffer v, MatrixLayout heads, CudaBuffer scores, Buffer context,
                                        MatrixLayout contextHeads, int matrices, int tokens, int headDim,
                                        Consumer<CudaBuffer> softmax) {
        MatrixLayout dense = MatrixLayout.dense(tokens, tokens);
        CudaBuffer cc = floats(context, -1, "context");
        // the checks of the products this stands for, on the float operands
        ArgumentChecks.batchedGemm(false, true, tokens, tokens, headDim, q, heads, k, heads, scores, dense, matrices);
        ArgumentChecks.batchedGemm(false, false, tokens, headDim, tokens, scores, dense, v, heads, cc, contextHeads, matrices);
        long[] qkv = roundedHeads(heads, matrices, tokens, headDim, q, k, v);
        multiply(false, true, tokens, tokens, headDim, 1, qkv[0], heads, qkv[1], heads, 0, scores.address, dense, matrices, true);
        CudaBuffer probabilities = bf16Probs.get((scores.length() + 1) / 2);
        softmax.accept(probabilities);
        multiply(false, false, tokens, headDim, tokens, 1, probabilities.address, dense, qkv[2], heads, 0, cc.address,
                contextHeads, matrices, true);
    }

    @Override
    public void attentionTrainingBackward(Buffer q, Buffer k, Buffer v, MatrixLayout heads, Buffer probs,
                                          Buffer dContext, MatrixLayout contextHeads, Buffer dq, Buffer dk, Buffer dv,
                                          Buffer dScores, Buffer probsDropped, int batch, int headCount, int tokens,
                                          int headDim, float scale, float p, long seed, long stream) {
        if (!bf16Attention(tokens)) {
            Backend.super.attentionTrainingBackward(q, k, v, heads, probs, dContext, contextHeads, dq, dk, dv, dScores,
                    probsDropped, batch, headCount, tokens, headDim, scale, p, seed, stream);
            return;
        }
        Philox.checkProbability(p);
        int matrices = batch * headCount, rows = matrices * tokens, square = rows * tokens;
        MatrixLayout dense = MatrixLayout.dense(tokens, tokens);
        CudaBuffer cp = floats(probs, square, "probs"), cs = floats(dScores, square, "dScores");
        CudaBuffer cdq = floats(dq, -1, "dq"), cdk = floats(dk, -1, "dk"), cdv = floats(dv, -1, "dv");
        CudaBuffer cdc = floats(dContext, -1, "dContext");
        ArgumentChecks.batchedGemm(false, true, tokens, tokens, headDim, cdc, contextHeads, v, heads, cs, dense, matrices);
        ArgumentChecks.batchedGemm(true, false, tokens, headDim, tokens, cs, dense, cdc, contextHeads, cdv, heads, matrices);
        ArgumentChecks.batchedGemm(false, false, tokens, headDim, tokens, cs, dense, k, heads, cdq, heads, matrices);
        ArgumentChecks.batchedGemm(true, false, tokens, headDim, tokens, cs, dense, q, heads, cdk, heads, matrices);
        long[] qkv = roundedHeads(heads, matrices, tokens, headDim, q, k, v);
        long dc = roundedToBf16(cdc.slice(0, (int) contextHeads.end(matrices, tokens, headDim)), bf16Context).address;
        // dDropped [T, T] = dContext Vᵀ, in float for the softmax backward, which writes bf16 copies of
        // probsDropped (for dV) and dScores (for dQ and dK)
        multiply(false, true, tokens, tokens, headDim, 1, dc, contextHeads, qkv[2], heads, 0, cs.address, dense, matrices, true);
        CudaBuffer dropped = bf16Probs.get((square + 1) / 2), dScoresBf16 = bf16DScores.get((square + 1) / 2);
        kernels.launch(DROPOUT_SOFTMAX_BACKWARD_BF16, rowGrid(rows), 1, 32, ROWS_PER_BLOCK, cp, cs, dropped, dScoresBf16,
                rows, tokens, scale, Philox.keepThreshold(p), 1 / (1 - p), seed, stream);
        multiply(true, false, tokens, headDim, tokens, 1, dropped.address, dense, dc, contextHeads, 0, cdv.address, heads,
                matrices, true);
        multiply(false, false, tokens, headDim, tokens, 1, dScoresBf16.address, dense, qkv[1], heads, 0, cdq.address, heads,
                matrices, true);
        multiply(true, false, tokens, headDim, tokens, 1, dScoresBf16.address, dense, qkv[0], heads, 0, cdk.address, heads,
                matrices, true);
        afterOp("attentionTrainingBackward");
    }

    /**
     * bf16 copies of Q, K and V ({@code matrices} [tokens, headDim] matrices each, laid out by
     * {@code heads}); their device addresses, in that order. In the model all three interleave in one
     * projection [B, T, 3, H, D], and their buffers are slices of it that together cover one stretch
     * of memory: then the stretch their matrices reach is rounded once, and each copy lies at its own
     * place in it. Otherwise (separate buffers) each is rounded alone.
     */
    private long[] roundedHeads(MatrixLayout heads, int matrices, int tokens, int headDim, Buffer... operands) {
        long reach = heads.end(matrices, tokens, headDim); // elements from an operand's start
        CudaBuffer[] buffers = new CudaBuffer[operands.length];
        for (int i = 0; i < operands.length; i++) {
            buffers[i] = floats(operands[i], -1, "qkv".substring(i, i + 1));
        }
        CudaBuffer[] byAddress = buffers.clone();
        Arrays.sort(byAddress, Comparator.comparingLong(buffer -> buffer.address));
        long start = byAddress[0].address, covered = start, reached = start;
        boolean oneStretch = true;
        for (CudaBuffer buffer : byAddress) {
            oneStretch &= buffer.address <= covered;
            covered = Math.max(covered, buffer.address + 4L * buffer.length());
            reached = Math.max(reached, buffer.address + 4 * reach);
        }
        long[] addresses = new long[operands.length];
        Scratch[] scratch = {bf16A, bf16B, bf16C};
        if (oneStretch && reached <= covered) {
            // the buffers cover [start, reached) without a gap, so it is memory of theirs
            CudaBuffer stretch = new CudaBuffer(this, start, Buffer.Type.FLOAT32, (int) ((reached - start) / 4));
            long copy = roundedToBf16(stretch, bf16A).address;
            for (int i = 0; i < operands.length; i++) {
                addresses[i] = copy + (buffers[i].address - start) / 2; // 4 bytes a float, 2 a bf16
            }
        } else {
            for (int i = 0; i < operands.length; i++) {
                addresses[i] = roundedToBf16(buffers[i].slice(0, (int) reach), scratch[i]).address;
            }
        }
        return addresses;
    }

    // ---- embeddings ---------------------------------------------------------------------------

    @Override
    public void embeddingForward(Buffer ids, Buffer table, Buffer out, int rows, int dim, boolean accumulate) {
        CudaBuffer ct = floats(table, -1, "table");
        CudaBuffer ci = checkedIndices(ids, rows, ct.length(), dim, "embedding id", "table");
        kernels.launch(EMBEDDING_FORWARD, grid((long) rows * dim), 1, THREADS, 1, ci, ct, floats(out, rows * dim, "out"),
                rows, dim, accumulate ? 1 : 0);
        afterOp("embeddingForward");
    }

    @Override
    public void embeddingBackward(Buffer ids, Buffer dOut, Buffer dTable, int rows, int dim) {
        CudaBuffer ct = floats(dTable, -1, "dTable");
        CudaBuffer ci = checkedIndices(ids, rows, ct.length(), dim, "embedding id", "dTable");
        CudaBuffer cd = floats(dOut, rows * dim, "dOut");
        // Sort the rows by id on the host (counting sort, stable), so that the kernel can give each
        // id's sum to one block per 32 columns and add its rows in a fixed order: no atomics, the same
        // bits on every run. Uploaded as one int array: order [rows], starts [segments + 1], ids [segments].
        int[] host = hostValues(ci);
        int[] counts = new int[ct.length() / dim + 1];
        for (int id : host) {
            counts[id + 1]++;
        }
        int segments = 0;
        for (int id = 0; id + 1 < counts.length; id++) {
            segments += counts[id + 1] > 0 ? 1 : 0;
            counts[id + 1] += counts[id];
        }
        int[] layout = new int[rows + 2 * segments + 1];
        int segment = 0;
        for (int id = 0; id + 1 < counts.length; id++) {
            if (counts[id + 1] > counts[id]) {
                layout[rows + segment] = counts[id];
                layout[rows + segments + 1 + segment] = id;
                segment++;
            }
        }
        layout[rows + segments] = rows;
        for (int r = 0; r < rows; r++) {
            layout[counts[host[r]]++] = r;
        }
        CudaBuffer device = embeddingSegments.get(layout.length);
        enqueueCopyIn(layout, device);
        kernels.launch(EMBEDDING_BACKWARD, (dim + 31) / 32, Math.max(1, Math.min(segments, 65535)), 32, 8,
                device.slice(0, rows), device.slice(rows, segments + 1), device.slice(rows + segments + 1, segments),
                cd, ct, segments, dim);
        afterOp("embeddingBackward");
    }

    // ---- loss ---------------------------------------------------------------------------------

    @Override
    public void crossEntropyForward(Buffer logits, Buffer targets, Buffer probs, Buffer losses, int rows, int classes) {
        CudaBuffer ct = checkedTargets(targets, rows, classes);
        kernels.launch(CROSS_ENTROPY_FORWARD, rowGrid(rows), 1, 32, ROWS_PER_BLOCK, floats(logits, rows * classes, "logits"),
                ct, floats(probs, rows * classes, "probs"), floats(losses, rows, "losses"), rows, classes);
        afterOp("crossEntropyForward");
    }

    @Override
    public void crossEntropyBackward(Buffer probs, Buffer targets, Buffer dLogits, int rows, int classes, float dLoss) {
        CudaBuffer ct = checkedTargets(targets, rows, classes);
        kernels.launch(CROSS_ENTROPY_BACKWARD, grid((long) rows * classes), 1, THREADS, 1,
                floats(probs, rows * classes, "probs"), ct, floats(dLogits, rows * classes, "dLogits"), rows, classes, dLoss);
        afterOp("crossEntropyBackward");
    }

    // ---- optimizer ----------------------------------------------------------------------------

    @Override
    public void adamW(Buffer params, Buffer grads, Buffer m, Buffer v, AdamW settings, int step) {
        if (step < 1) {
            throw new IllegalArgumentException("step must be at least 1, got " + step);
        }
        CudaBuffer cp = floats(params, -1, "params");
        float decay = 1 - settings.learningRate() * settings.weightDecay();
        float stepSize = (float) (settings.learningRate() / (1 - Math.pow(settings.beta1(), step)));
        float inverseRootCorrection = (float) (1 / Math.sqrt(1 - Math.pow(settings.beta2(), step)));
        kernels.launch(ADAMW, grid(cp.length()), 1, THREADS, 1, cp, floats(grads, cp.length(), "grads"),
                floats(m, cp.length(), "m"), floats(v, cp.length(), "v"), (long) cp.length(), settings.beta1(),
                settings.beta2(), settings.epsilon(), decay, stepSize, inverseRootCorrection);
        afterOp("adamW");
    }

    @Override
    public void sumOfSquares(Buffer x, Buffer result) {
        CudaBuffer cx = floats(x, -1, "x");
        kernels.launch(SQUARES_PARTIALS, NORM_BLOCKS, 1, THREADS, 1, cx, (long) cx.length(), normPartials);
        kernels.launch(SQUARES_FINISH, 1, 1, THREADS, 1, normPartials, NORM_BLOCKS, floats(result, 1, "result"));
        afterOp("sumOfSquares");
    }

    @Override
    public void clipByGlobalNorm(Buffer x, Buffer sumOfSquares, float maxNorm) {
        CudaBuffer cx = floats(x, -1, "x");
        kernels.launch(CLIP, grid(cx.length()), 1, THREADS, 1, cx, (long) cx.length(),
                floats(sumOfSquares, 1, "sumOfSquares"), maxNorm);
        afterOp("clipByGlobalNorm");
    }

    // ---- launch shapes, scratch, checks -------------------------------------------------------

    /** Blocks for a grid-stride loop over {@code n} items: enough to fill the GPU, no more. */
    private int grid(long n) {
        return (int) Math.min((n + THREADS - 1) / THREADS, 32L * multiprocessors);
    }

    /** Blocks for the one-warp-per-row kernels. */
    private static int rowGrid(int rows) {
        return (rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
    }

    /**
     * A device buffer for an op's intermediate results, grown on demand. A buffer it outgrew stays
     * allocated until close: ops already queued may still read it.
     */
    private final class Scratch {
        private final Buffer.Type type;
        private CudaBuffer buffer;

        Scratch(Buffer.Type type) {
            this.type = type;
        }

        CudaBuffer get(int length) {
            if (buffer == null || buffer.length() < length) {
                buffer = allocate(Math.max(length, 1 << 20), type);
            }
            return buffer.slice(0, length);
        }
    }

    private void afterOp(String op) {
        if (syncEachOp) {
            CudaStatus.runtime(cudart.cudaDeviceSynchronize(), op);
        }
    }

    /** Ids are checked on the host before any write, as on the CPU: a bad id is an exception, never a wild write. */
    private CudaBuffer checkedIndices(Buffer ids, int rows, int tableLength, int dim, String what, String table) {
        if (dim < 1 || tableLength % dim != 0) {
            throw new IllegalArgumentException(table + " has " + tableLength + " elements, not a whole number of rows of " + dim);
        }
        return checkedRange(ints(ids, rows, "ids"), tableLength / dim, what);
    }

    private CudaBuffer checkedTargets(Buffer targets, int rows, int classes) {
        return checkedRange(ints(targets, rows, "targets"), classes, "target");
    }

    /** Every value in [0, limit): known from the upload when it was uploaded whole and in range, else checked one by one. */
    private CudaBuffer checkedRange(CudaBuffer values, int limit, String what) {
        for (IntUpload upload : intUploads) {
            if (upload.covers(values) && upload.min() >= 0 && upload.max() < limit) {
                return values;
            }
        }
        int[] host = hostValues(values);
        ArgumentChecks.checkRange(host, 0, host.length, limit, what);
        return values;
    }

    /** The values of an int buffer: from the upload that wrote them when there is one (no wait), else read back. */
    private int[] hostValues(CudaBuffer values) {
        for (IntUpload upload : intUploads) {
            if (upload.covers(values)) {
                int first = (int) ((values.address - upload.address()) / 4);
                return Arrays.copyOfRange(upload.values(), first, first + values.length());
            }
        }
        int[] host = new int[values.length()];
        copyOut(values, host);
        return host;
    }

    private CudaBuffer floats(Buffer buffer, int length, String name) {
        return check(buffer, Buffer.Type.FLOAT32, length, name);
    }

    private CudaBuffer ints(Buffer buffer, int length, String name) {
        return check(buffer, Buffer.Type.INT32, length, name);
    }

    private CudaBuffer check(Buffer buffer, Buffer.Type type, int length, String name) {
        if (!(buffer instanceof CudaBuffer cuda) || cuda.owner != this) {
            throw new IllegalArgumentException(name + " is not a buffer of this CUDA backend: " + buffer);
        }
        ArgumentChecks.typeAndLength(cuda, type, length, name);
        return cuda;
    }
}
