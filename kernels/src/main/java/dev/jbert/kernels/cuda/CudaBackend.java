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
import java.util.List;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * The GPU backend: buffers in device memory, GEMMs on cuBLAS ({@link CudaProducts}; in bf16 mode
 * attention's products through {@link Bf16Attention}), every other op a kernel of
 * {@code kernels/src/main/cuda}. This class checks each op's buffers and launches its kernels.
 * Everything is enqueued in order on the default stream and runs
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
    static final int THREADS = 256;                  // block size of the elementwise kernels
    static final int ROWS_PER_BLOCK = 8;             // warps per block of the row kernels (one row each)
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
    private static final Kernel GELU_FORWARD_BACKWARD = new Kernel("elementwise", "gelu_forward_backward");
    private static final Kernel DROPOUT = new Kernel("elementwise", "dropout");
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
    /**
     * The longest row the two fused softmax-and-dropout kernels take (MAX_TOKENS in softmax.cu), and
     * so bf16 mode's attention, which uses their bf16 twins and attention.cu's kernels (MAX_TOKENS
     * there too); longer rows run as separate ops in tf32.
     */
    static final int FUSED_SOFTMAX_TOKENS = 512;
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
    private final CudaKernels kernels;
    private final CudaProducts products;
    private final Bf16Attention bf16Attention;
    private final BytePointer staging = new BytePointer(STAGING_BYTES); // host side of copies
    private final List<Long> allocations = new ArrayList<>();
    private final List<IntUpload> intUploads = new ArrayList<>();
    private long allocatedBytes;
    private final Scratch columnPartials = new Scratch(this, Buffer.Type.FLOAT32);
    private final Scratch embeddingSegments = new Scratch(this, Buffer.Type.INT32);
    private CudaBuffer normPartials;  // NORM_BLOCKS doubles (2 floats each)
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
        this.kernels = new CudaKernels(context);
        this.normPartials = allocate(2 * NORM_BLOCKS, Buffer.Type.FLOAT32);
        this.products = new CudaProducts(this, kernels, precision);
        this.bf16Attention = new Bf16Attention(this, products, kernels);
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

    CudaBuffer allocate(int length, Buffer.Type type) {
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
    void enqueueCopyIn(long[] source, CudaBuffer target) {
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
        products.close();
        for (long address : allocations) {
            cudart.cudaFree(new RawPointer(address));
        }
        allocations.clear();
        staging.close();
    }

    // ---- matrix products (CudaProducts) -----------------------------------------------------------

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k,
                     float alpha, Buffer a, Buffer b, float beta, Buffer c) {
        products.gemm(transA, transB, m, n, k, alpha, floats(a, m * k, "a"), floats(b, k * n, "b"), beta, floats(c, m * n, "c"));
    }

    /** One cuBLASLt matmul with the bias in its epilogue, where cuBLASLt has a plan (see {@link CudaProducts#linearForward}). */
    @Override
    public void linearForward(Buffer x, Buffer weight, Buffer bias, Buffer y, int rows, int out, int in) {
        if (products.linearForward(floats(x, rows * in, "x"), floats(weight, out * in, "weight"), floats(bias, out, "bias"),
                floats(y, rows * out, "y"), rows, out, in)) {
            afterOp("linearForward");
        } else {
            Backend.super.linearForward(x, weight, bias, y, rows, out, in);
        }
    }

    /** In bf16 mode, the two GEMMs share one rounded copy of dy (see {@link CudaProducts#linearBackwardInBf16}). */
    @Override
    public void linearBackward(Buffer dy, Buffer x, Buffer weight, Buffer dWeight, Buffer dBias, Buffer dx,
                               boolean accumulate, int rows, int out, int in) {
        if (!precision.roundsInputsToBf16()) {
            Backend.super.linearBackward(dy, x, weight, dWeight, dBias, dx, accumulate, rows, out, in);
            return;
        }
        products.linearBackwardInBf16(floats(dy, rows * out, "dy"), floats(x, rows * in, "x"), floats(weight, out * in, "weight"),
                floats(dWeight, out * in, "dWeight"), floats(dBias, out, "dBias"), floats(dx, rows * in, "dx"), accumulate,
                rows, out, in);
        afterOp("linearBackward");
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
        products.multiply(transA, transB, m, n, k, alpha, ca.address, aLayout, cb.address, bLayout, beta, cc.address,
                cLayout, batch, false);
    }

    // ---- elementwise and layout ---------------------------------------------------------------

    @Override
    public void addBias(Buffer x, Buffer bias, int rows, int cols) {
        CudaBuffer cx = floats(x, rows * cols, "x");
        kernels.launch(ADD_BIAS, grid(cx.length()), 1, THREADS, 1, cx, floats(bias, cols, "bias"), (long) rows, cols);
        afterOp("addBias");
    }

    /** A float GEMV against a vector of ones (see {@link CudaProducts#biasBackward}). */
    @Override
    public void biasBackward(Buffer dy, Buffer dBias, int rows, int cols) {
        products.biasBackward(floats(dy, rows * cols, "dy"), floats(dBias, cols, "dBias"), rows, cols);
        afterOp("biasBackward");
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

    /** One pass: x and dy read once, erf computed once (see {@link Backend#geluForwardAndBackward}). */
    @Override
    public void geluForwardAndBackward(Buffer x, Buffer y, Buffer dy, Buffer dx) {
        CudaBuffer cx = floats(x, -1, "x");
        kernels.launch(GELU_FORWARD_BACKWARD, grid(cx.length()), 1, THREADS, 1, cx, floats(y, cx.length(), "y"),
                floats(dy, cx.length(), "dy"), floats(dx, cx.length(), "dx"), (long) cx.length());
        afterOp("geluForwardAndBackward");
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
            CudaBuffer[] partials = columnPartials(chunks, cols);
            kernels.launch(LAYER_NORM_BACKWARD_FUSED, chunks, 1, FUSED_LAYER_NORM_THREADS, 1, cdy, cx, cGamma, cMean, cRstd, cdx,
                    partials[0], partials[1], rows, cols);
            finishColumnSums(partials, cdBeta, cdGamma, chunks, cols);
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
        CudaBuffer[] partials = columnPartials(chunks, cols);
        kernels.launch(COLUMN_PARTIALS, (cols + 31) / 32, chunks, 32, 32, dy, x, mean, rstd, partials[0], partials[1],
                rows, cols, ROWS_PER_CHUNK);
        finishColumnSums(partials, dBeta, dGamma, chunks, cols);
    }

    /** The scratch for the chunks' partial column sums: of dy {@code [chunks, cols]}, then of dy * xhat. */
    private CudaBuffer[] columnPartials(int chunks, int cols) {
        CudaBuffer partials = columnPartials.get(2 * chunks * cols);
        return new CudaBuffer[] {partials.slice(0, chunks * cols), partials.slice(chunks * cols, chunks * cols)};
    }

    /** dBeta += the chunks' sums of dy ({@code partials[0]}), dGamma += of dy * xhat ({@code [1]}), chunk by chunk in order. */
    private void finishColumnSums(CudaBuffer[] partials, CudaBuffer dBeta, CudaBuffer dGamma, int chunks, int cols) {
        kernels.launch(COLUMN_FINISH, (cols + THREADS - 1) / THREADS, 1, THREADS, 1, partials[0], dBeta, chunks, cols);
        kernels.launch(COLUMN_FINISH, (cols + THREADS - 1) / THREADS, 1, THREADS, 1, partials[1], dGamma, chunks, cols);
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

    // ---- attention in bf16 mode (Bf16Attention) ----------------------------------------------------

    /** Whether a fused attention op runs as {@link Bf16Attention} (else as the interface's default, in tf32). */
    private boolean attentionInBf16(int tokens) {
        return precision.roundsInputsToBf16() && tokens <= FUSED_SOFTMAX_TOKENS;
    }

    @Override
    public void attentionEvaluation(Buffer q, Buffer k, Buffer v, MatrixLayout heads, Buffer mask, Buffer context,
                                    MatrixLayout contextHeads, Buffer scores, int batch, int headCount, int tokens,
                                    int headDim, float scale) {
        if (!attentionInBf16(tokens)) {
            Backend.super.attentionEvaluation(q, k, v, heads, mask, context, contextHeads, scores, batch, headCount,
                    tokens, headDim, scale);
            return;
        }
        bf16Attention.evaluation(floats(q, -1, "q"), floats(k, -1, "k"), floats(v, -1, "v"), heads,
                ints(mask, batch * tokens, "mask"), floats(context, -1, "context"), contextHeads,
                floats(scores, batch * headCount * tokens * tokens, "scores"), batch, headCount, tokens, headDim, scale);
        afterOp("attentionEvaluation");
    }

    @Override
    public void attentionTrainingForward(Buffer q, Buffer k, Buffer v, MatrixLayout heads, Buffer mask, Buffer probs,
                                         Buffer probsDropped, Buffer context, MatrixLayout contextHeads,
                                         int batch, int headCount, int tokens, int headDim, float scale,
                                         float p, long seed, long stream) {
        if (!attentionInBf16(tokens)) {
            Backend.super.attentionTrainingForward(q, k, v, heads, mask, probs, probsDropped, context, contextHeads, batch,
                    headCount, tokens, headDim, scale, p, seed, stream);
            return;
        }
        bf16Attention.trainingForward(floats(q, -1, "q"), floats(k, -1, "k"), floats(v, -1, "v"), heads,
                ints(mask, batch * tokens, "mask"), floats(probs, batch * headCount * tokens * tokens, "probs"),
                floats(context, -1, "context"), contextHeads, batch, headCount, tokens, headDim, scale, p, seed, stream);
        afterOp("attentionTrainingForward");
    }

    @Override
    public void attentionTrainingBackward(Buffer q, Buffer k, Buffer v, MatrixLayout heads, Buffer probs,
                                          Buffer context, Buffer dContext, MatrixLayout contextHeads, Buffer dq,
                                          Buffer dk, Buffer dv, Buffer dScores, Buffer probsDropped, int batch,
                                          int headCount, int tokens, int headDim, float scale, float p, long seed,
                                          long stream) {
        if (!attentionInBf16(tokens)) {
            Backend.super.attentionTrainingBackward(q, k, v, heads, probs, context, dContext, contextHeads, dq, dk, dv,
                    dScores, probsDropped, batch, headCount, tokens, headDim, scale, p, seed, stream);
            return;
        }
        int square = batch * headCount * tokens * tokens;
        bf16Attention.trainingBackward(floats(q, -1, "q"), floats(k, -1, "k"), floats(v, -1, "v"), heads,
                floats(probs, square, "probs"), floats(context, -1, "context"), floats(dContext, -1, "dContext"),
                contextHeads, floats(dq, -1, "dq"), floats(dk, -1, "dk"), floats(dv, -1, "dv"),
                floats(dScores, square, "dScores"), batch, headCount, tokens, headDim, scale, p, seed, stream);
        afterOp("attentionTrainingBackward");
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
    int grid(long n) {
        return (int) Math.min((n + THREADS - 1) / THREADS, 32L * multiprocessors);
    }

    /** Blocks for the one-warp-per-row kernels. */
    static int rowGrid(int rows) {
        return (rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
    }

    void afterOp(String op) {
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
