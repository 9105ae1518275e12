package dev.jbert.kernels.cpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Where a float array's elements lie against 64-byte cache lines, so that a buffer can start on one,
 * as PyTorch's allocator starts every tensor (see {@link CpuBuffer#ofFloats}).
 *
 * <p>Java gives no array's address, so it is read from a native call that returns its pointer
 * argument unchanged: {@code memset(p, 0, 0)} writes nothing and returns p, and a critical downcall
 * may be passed a heap array, so p is the array's address at that moment. The collector may move
 * a small array later (G1 never moves one that fills half a region or more, which every large
 * activation does): that costs speed, never correctness. Where the call is not available (native
 * access denied), arrays are taken as they come.
 */
public final class CacheLines {
    /** Bytes of a cache line. */
    public static final int BYTES = 64;
    /** Floats of a cache line: the padding a buffer needs to start on one. */
    public static final int FLOATS = BYTES / Float.BYTES;
    /** memset(void*, int, size_t), which returns its first argument; null when it cannot be linked. */
    private static final MethodHandle MEMSET = NativeCalls.downcall("memset",
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG),
            Linker.Option.critical(true)).orElse(null);

    private CacheLines() {}

    /** A zeroed array with room for a buffer of floats from {@code offset}, its first element on a line. */
    public record AlignedFloats(float[] array, int offset) {}

    /** An array one line's padding longer than {@code length}, and where in it the aligned buffer starts. */
    public static AlignedFloats allocate(int length) {
        float[] array = padded(length);
        return new AlignedFloats(array, firstAlignedIndex(array));
    }

    /**
     * A zeroed array with room for {@code length} floats from its first aligned element, wherever the
     * collector puts it: for a buffer whose aligned start is looked up again at each use.
     */
    static float[] padded(int length) {
        return new float[length + FLOATS - 1];
    }

    /**
     * The first index of {@code array} whose element starts a cache line (below {@link #FLOATS}), or 0
     * when the address cannot be read.
     */
    public static int firstAlignedIndex(float[] array) {
        return floatsToLine(address(array));
    }

    /** Floats from {@code address} (float-aligned) to the next cache line, 0 if it starts one. */
    public static int floatsToLine(long address) {
        return (int) (Math.floorMod(-address, BYTES) / Float.BYTES);
    }

    /** The address of {@code array[0]} now, or 0 when it cannot be read. */
    static long address(float[] array) {
        if (MEMSET == null) {
            return 0;
        }
        try {
            return ((MemorySegment) MEMSET.invokeExact(MemorySegment.ofArray(array), 0, 0L)).address();
        } catch (Throwable e) {
            return 0;
        }
    }
}
