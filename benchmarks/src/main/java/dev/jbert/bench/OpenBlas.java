package dev.jbert.bench;

import dev.jbert.kernels.cpu.CacheLines;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * The GEMM peer: OpenBLAS's {@code cblas_sgemm} through JavaCPP, on off-heap buffers.
 *
 * <p>JavaCPP maps cblas but not OpenBLAS's own {@code openblas_*} functions, so those are called
 * through the FFM API on the library JavaCPP has loaded. Run with {@code OPENBLAS_CORETYPE=SKYLAKEX}
 * (scripts/bench exports it): on an unknown CPU model OpenBLAS may otherwise fall back to a slower
 * kernel; {@link #describe()} shows which one it picked.
 */
final class OpenBlas {
    private static final MethodHandle SET_NUM_THREADS, GET_NUM_THREADS, GET_CONFIG, GET_CORENAME, MADVISE;
    /** Linux's {@code MADV_HUGEPAGE}: back this range with transparent huge pages where possible. */
    private static final int MADV_HUGEPAGE = 14;
    private static final long PAGE = 4096;

    static {
        Loader.load(openblas_nolapack.class);
        SymbolLookup loaded = SymbolLookup.loaderLookup();
        Linker linker = Linker.nativeLinker();
        SET_NUM_THREADS = linker.downcallHandle(loaded.findOrThrow("openblas_set_num_threads"),
                FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
        GET_NUM_THREADS = linker.downcallHandle(loaded.findOrThrow("openblas_get_num_threads"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT));
        FunctionDescriptor string = FunctionDescriptor.of(ValueLayout.ADDRESS.withTargetLayout(ValueLayout.JAVA_BYTE));
        GET_CONFIG = linker.downcallHandle(loaded.findOrThrow("openblas_get_config"), string);
        GET_CORENAME = linker.downcallHandle(loaded.findOrThrow("openblas_get_corename"), string);
        MADVISE = linker.downcallHandle(linker.defaultLookup().findOrThrow("madvise"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    }

    private OpenBlas() {}

    static void setThreads(int threads) {
        try {
            SET_NUM_THREADS.invokeExact(threads);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** e.g. "OpenBLAS 0.3.31 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64 | core skylakex | 2 threads". */
    static String describe() {
        try {
            String config = ((MemorySegment) GET_CONFIG.invokeExact()).reinterpret(256).getString(0);
            String core = ((MemorySegment) GET_CORENAME.invokeExact()).reinterpret(64).getString(0);
            int threads = (int) GET_NUM_THREADS.invokeExact();
            return config + " | core " + core + " | " + threads + " threads"
                    + " | OPENBLAS_CORETYPE=" + System.getenv("OPENBLAS_CORETYPE");
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * A native copy of {@code values} on transparent huge pages where the kernel offers them (THP
     * "madvise" or "always"): the range is advised before it is first written, so its page faults
     * map 2 MiB pages. jbert's side runs with {@code -XX:+UseTransparentHugePages}, as the
     * {@code jbert} launcher starts it, so both sides' operands are mapped alike. Where the advice
     * is refused (THP off), the copy is on ordinary pages, as jbert's heap then is too. The copy
     * starts on a 64-byte cache line (the pointer is positioned at it), as PyTorch's allocator
     * aligns its tensors and jbert's CPU backend its buffers.
     */
    static FloatPointer hugePageCopy(float[] values) {
        long floats = (long) values.length + CacheLines.FLOATS - 1;  // a line's padding to start on one
        FloatPointer copy = new FloatPointer(floats);
        long start = Math.ceilDiv(copy.address(), PAGE) * PAGE;
        long end = (copy.address() + floats * Float.BYTES) / PAGE * PAGE;
        if (end > start) {
            try {
                int ignored = (int) MADVISE.invokeExact(start, end - start, MADV_HUGEPAGE);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
        copy.position(CacheLines.floatsToLine(copy.address()));  // the first aligned float
        copy.put(values);
        return copy;
    }

    /** The same contract as jbert's Gemm.gemm on dense row-major operands. */
    static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                      FloatPointer a, FloatPointer b, float beta, FloatPointer c) {
        openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor,
                transA ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans,
                transB ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans,
                m, n, k, alpha, a, transA ? m : k, b, transB ? k : n, beta, c, n);
    }
}
