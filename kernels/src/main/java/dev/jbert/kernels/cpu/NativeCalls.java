package dev.jbert.kernels.cpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * The C library's functions that the CPU backend calls through the FFM API (an array's address in
 * {@link CacheLines}, the L1's size in {@link L1Cache}). Both only make the backend faster, so a
 * function that cannot be linked, or a JVM that denies native access, gives nothing instead of an
 * error, and the caller falls back.
 */
final class NativeCalls {
    private NativeCalls() {}

    /** A downcall to the C library's {@code name}, or empty where it cannot be linked. */
    static Optional<MethodHandle> downcall(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find(name).map(symbol -> linker.downcallHandle(symbol, descriptor, options));
        } catch (RuntimeException e) {  // IllegalCallerException where native access is denied
            return Optional.empty();
        }
    }
}
