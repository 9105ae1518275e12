package dev.jbert.kernels.cuda;

import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cublas.cublasLtContext;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * A Linear layer's forward, {@code y [rows, out] = x [rows, in] Wᵀ + bias}, as one cuBLASLt matmul
 * whose epilogue adds the bias while it writes y: no second pass over y (addBias took 17% of the
 * eval forward on an H200, 2026-11-27).
 *
 * <p>In cuBLAS's column-major terms y is {@code D [out, rows]} (ld out), W row-major {@code [out, in]}
 * is the column-major {@code [in, out]} used transposed, and x is {@code [in, rows]}:
 * {@code D = Wᵀ x + bias}, where the BIAS epilogue adds {@code bias[i]} to row i of D, that is to
 * column i of y. Each shape gets a plan once (layouts and the heuristic's algorithm); for a shape
 * where cuBLASLt offers none, {@link #plan} returns null, and the caller falls back to a GEMM and
 * addBias (as it does for a bias that is not 16-byte aligned).
 */
final class BiasMatmul implements AutoCloseable {
    /** cuBLASLt's workspace: 32 MiB, what NVIDIA advises for Hopper. */
    private static final long WORKSPACE_BYTES = 32L << 20;

    /** The operands' types, the compute type, the shape and the alignment of the four pointers. */
    private record Key(int inputType, int computeType, int rows, int out, int in, int alignment) {}

    /** A shape's descriptors and the algorithm cuBLASLt chose for it; null fields mean "no plan". */
    record Plan(cublasLtMatmulDescOpaque_t desc, cublasLtMatrixLayoutOpaque_t w,
                        cublasLtMatrixLayoutOpaque_t x, cublasLtMatrixLayoutOpaque_t y,
                        cublasLtMatmulHeuristicResult_t algorithm) {}

    private final cublasLtContext lt = new cublasLtContext();
    private final long workspace;
    private final Map<Key, Plan> plans = new HashMap<>();
    private final FloatPointer one = new FloatPointer(1).put(1f);
    private final FloatPointer zero = new FloatPointer(1).put(0f);
    private final LongPointer biasAddress = new LongPointer(1);

    /** {@code workspace}: a device allocation of at least {@link #workspaceBytes()} bytes, owned by the caller. */
    BiasMatmul(long workspace) {
        this.workspace = workspace;
        CudaStatus.blas(cublas.cublasLtCreate(lt), "cublasLtCreate");
    }

    static long workspaceBytes() {
        return WORKSPACE_BYTES;
    }

    /**
     * The plan for {@code y = x Wᵀ + bias} with operands of {@code inputType} (float, or bf16 copies),
     * float y and bias, and pointers all aligned to {@code alignment} bytes; null when cuBLASLt has
     * no algorithm for it.
     */
    Plan plan(int rows, int out, int in, int inputType, int computeType, int alignment) {
        Plan plan = plans.computeIfAbsent(new Key(inputType, computeType, rows, out, in, alignment), this::plan);
        return plan.algorithm() == null ? null : plan;
    }

    /** Enqueues the matmul of {@code plan} on these device addresses; the bias must be 16-byte aligned. */
    void run(Plan plan, long x, long weight, long bias, long y, int rows, int out, int in) {
        biasAddress.put(0, bias);
        CudaStatus.blas(cublas.cublasLtMatmulDescSetAttribute(plan.desc(), cublas.CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                biasAddress, 8), "cublasLtMatmulDescSetAttribute(bias)");
        CudaStatus.blas(cublas.cublasLtMatmul(lt, plan.desc(), one, new RawPointer(weight), plan.w(), new RawPointer(x), plan.x(),
                zero, new RawPointer(y), plan.y(), new RawPointer(y), plan.y(), plan.algorithm().algo(),
                new RawPointer(workspace), WORKSPACE_BYTES, (CUstream_st) null),
                String.format("cublasLtMatmul with bias (rows=%d, out=%d, in=%d)", rows, out, in));
    }

    /** The largest power of two, up to 256, that divides every address (cuBLASLt picks kernels by it). */
    static int alignment(long addresses) {
        return (int) Math.min(256, Long.lowestOneBit(addresses | 256));
    }

    private Plan plan(Key key) {
        cublasLtMatmulDescOpaque_t desc = created(cublasLtMatmulDescOpaque_t.class,
                p -> cublas.cublasLtMatmulDescCreate(p, key.computeType(), cudart.CUDA_R_32F), "cublasLtMatmulDescCreate");
        setInt(desc, cublas.CUBLASLT_MATMUL_DESC_TRANSA, cublas.CUBLAS_OP_T);
        setInt(desc, cublas.CUBLASLT_MATMUL_DESC_TRANSB, cublas.CUBLAS_OP_N);
        setInt(desc, cublas.CUBLASLT_MATMUL_DESC_EPILOGUE, cublas.CUBLASLT_EPILOGUE_BIAS);
        cublasLtMatrixLayoutOpaque_t w = layout(key.inputType(), key.in(), key.out(), key.in());
        cublasLtMatrixLayoutOpaque_t x = layout(key.inputType(), key.in(), key.rows(), key.in());
        cublasLtMatrixLayoutOpaque_t y = layout(cudart.CUDA_R_32F, key.out(), key.rows(), key.out());
        cublasLtMatmulPreferenceOpaque_t preference = created(cublasLtMatmulPreferenceOpaque_t.class,
                cublas::cublasLtMatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate");
        try (LongPointer bytes = new LongPointer(1).put(WORKSPACE_BYTES); IntPointer aligned = new IntPointer(1).put(key.alignment())) {
            CudaStatus.blas(cublas.cublasLtMatmulPreferenceSetAttribute(preference,
                    cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, bytes, 8), "cublasLtMatmulPreferenceSetAttribute");
            for (int attribute : new int[] {cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                    cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
                CudaStatus.blas(cublas.cublasLtMatmulPreferenceSetAttribute(preference, attribute, aligned, 4),
                        "cublasLtMatmulPreferenceSetAttribute");
            }
            cublasLtMatmulHeuristicResult_t result = new cublasLtMatmulHeuristicResult_t(1);
            int[] found = new int[1];
            int status = cublas.cublasLtMatmulAlgoGetHeuristic(lt, desc, w, x, y, y, preference, 1, result, found);
            boolean usable = status == cublas.CUBLAS_STATUS_SUCCESS && found[0] > 0;
            return new Plan(desc, w, x, y, usable ? result : null);
        } finally {
            cublas.cublasLtMatmulPreferenceDestroy(preference);
        }
    }

    /** A column-major {@code rows x cols} matrix with leading dimension {@code ld}. */
    private static cublasLtMatrixLayoutOpaque_t layout(int type, int rows, int cols, int ld) {
        return created(cublasLtMatrixLayoutOpaque_t.class,
                p -> cublas.cublasLtMatrixLayoutCreate(p, type, rows, cols, ld), "cublasLtMatrixLayoutCreate");
    }

    private static void setInt(cublasLtMatmulDescOpaque_t desc, int attribute, int value) {
        try (IntPointer v = new IntPointer(1).put(value)) {
            CudaStatus.blas(cublas.cublasLtMatmulDescSetAttribute(desc, attribute, v, 4), "cublasLtMatmulDescSetAttribute");
        }
    }

    /** A cuBLASLt object made by a {@code ...Create(T* out)} call, which JavaCPP takes as a PointerPointer. */
    private static <T extends Pointer> T created(Class<T> type, java.util.function.ToIntFunction<PointerPointer<T>> create, String op) {
        try (PointerPointer<T> out = new PointerPointer<>(1)) {
            CudaStatus.blas(create.applyAsInt(out), op);
            return out.get(type, 0);
        }
    }

    @Override
    public void close() {
        for (Plan plan : plans.values()) {
            cublas.cublasLtMatrixLayoutDestroy(plan.w());
            cublas.cublasLtMatrixLayoutDestroy(plan.x());
            cublas.cublasLtMatrixLayoutDestroy(plan.y());
            cublas.cublasLtMatmulDescDestroy(plan.desc());
        }
        plans.clear();
        cublas.cublasLtDestroy(lt);
        one.close();
        zero.close();
        biasAddress.close();
    }
}
