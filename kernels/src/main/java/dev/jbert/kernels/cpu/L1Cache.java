package dev.jbert.kernels.cpu;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * The size of one core's L1 data cache, which sets the GEMM's block depth ({@link Gemm#KC}).
 *
 * <p>Asked in turn: Linux's sysfs ({@code /sys/devices/system/cpu/cpu0/cache/index*}); then glibc's
 * {@code sysconf(_SC_LEVEL1_DCACHE_SIZE)}, which reads the CPU's own CPUID leaves; then 32 KiB, the
 * smallest of current x86 cores. Why the second: some VMs expose no cache directory in sysfs (a
 * 2-vCPU AMD EPYC family 26 VM here did not), and there the 48 KiB L1 was taken for 32 KiB.
 */
final class L1Cache {
    /** glibc's value of _SC_LEVEL1_DCACHE_SIZE (bits/confname.h); another libc answers -1 or garbage. */
    private static final int SC_LEVEL1_DCACHE_SIZE = 188;
    /** What a real L1 data cache can be; a sysconf answer outside this is not trusted. */
    private static final int SMALLEST = 8 * 1024, LARGEST = 1024 * 1024;

    private L1Cache() {}

    /** Bytes of the L1 data cache, from the first source that answers (see the class comment). */
    static int dataBytes() {
        return fromSysfs(Path.of("/sys/devices/system/cpu/cpu0/cache"))
                .orElseGet(() -> fromSysconf().orElse(32 * 1024));
    }

    /** The size in an {@code index*} directory whose level is 1 and type Data, e.g. "48K". */
    static OptionalInt fromSysfs(Path caches) {
        for (int index = 0; index < 8; index++) {
            Path dir = caches.resolve("index" + index);
            try {
                if (Files.readString(dir.resolve("level")).strip().equals("1")
                        && Files.readString(dir.resolve("type")).strip().equals("Data")) {
                    String size = Files.readString(dir.resolve("size")).strip();
                    return OptionalInt.of(size.endsWith("K")
                            ? Integer.parseInt(size.substring(0, size.length() - 1)) * 1024
                            : Integer.parseInt(size));
                }
            } catch (IOException | NumberFormatException e) {
                break;
            }
        }
        return OptionalInt.empty();
    }

    /** {@code sysconf(_SC_LEVEL1_DCACHE_SIZE)} through a downcall; empty without native access or a sane answer. */
    static OptionalInt fromSysconf() {
        try {
            var sysconf = NativeCalls.downcall("sysconf", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
            if (sysconf.isEmpty()) {
                return OptionalInt.empty();
            }
            long bytes = (long) sysconf.get().invokeExact(SC_LEVEL1_DCACHE_SIZE);
            return bytes >= SMALLEST && bytes <= LARGEST ? OptionalInt.of((int) bytes) : OptionalInt.empty();
        } catch (Throwable e) {  // the call itself failed: no answer
            return OptionalInt.empty();
        }
    }
}
