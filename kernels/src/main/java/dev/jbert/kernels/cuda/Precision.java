package dev.jbert.kernels.cuda;

import org.bytedeco.cuda.global.cublas;

/**
 * How the CUDA backend's matrix products compute. Storage, the other ops, the master weights and
 * AdamW's moments stay float32 in every mode; only the GEMMs' inputs are rounded, inside cuBLAS,
 * before the tensor cores multiply them. Products are always accumulated in float32.
 */
public enum Precision {
    /** True float32 arithmetic (CUDA cores): the reference mode, as accurate as the CPU backend. */
    FP32("fp32", 0x1.0p-24),
    /** Inputs rounded to TF32 (10-bit mantissa) for the tensor cores. */
    TF32("tf32", 0x1.0p-11),
    /**
     * The Linear layers' GEMMs ({@code Backend.gemm}, {@code linearForward}, {@code linearBackward})
     * and the products inside the fused attention ops with inputs rounded to bfloat16 (7-bit
     * mantissa), what mixed-precision training uses; a plain {@code gemmBatched} as in TF32 (see
     * {@code CudaBackend.gemmBatched}). The backend rounds the inputs itself, into bf16 copies that
     * cuBLAS multiplies: asked to round float inputs itself ({@code CUBLAS_COMPUTE_32F_FAST_16BF}),
     * cuBLAS 13.0 on an H200 returned tf32's results at tf32's speed (CudaPrecisionTest, 2026-11-27).
     */
    BF16("bf16", 0x1.0p-8);

    private final String label;
    private final double unitRoundoff;

    Precision(String label, double unitRoundoff) {
        this.label = label;
        this.unitRoundoff = unitRoundoff;
    }

    /** The name used on the command line and in messages. */
    public String label() {
        return label;
    }

    /** The relative rounding error of one GEMM input in this mode (half an ulp of 1). */
    public double unitRoundoff() {
        return unitRoundoff;
    }

    /** Parses a command-line value ({@code fp32}, {@code tf32}, {@code bf16}). */
    public static Precision parse(String value) {
        for (Precision precision : values()) {
            if (precision.label.equalsIgnoreCase(value)) {
                return precision;
            }
        }
        throw new IllegalArgumentException("unknown precision '" + value + "': expected fp32, tf32 or bf16");
    }

    /** cuBLAS's compute type for float inputs: float accumulation, of the inputs as given or rounded to tf32. */
    int computeType() {
        return this == FP32 ? cublas.CUBLAS_COMPUTE_32F : cublas.CUBLAS_COMPUTE_32F_FAST_TF32;
    }

    /** Whether the backend hands cuBLAS bf16 copies of a Linear GEMM's inputs. */
    boolean roundsInputsToBf16() {
        return this == BF16;
    }
}
