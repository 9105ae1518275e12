package dev.jbert.kernels;

import dev.jbert.kernels.cpu.CpuBackend;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;

/**
 * The backends every op test runs on. The CPU backend appears three times: vectors on two
 * threads (the default on these machines), scalar on one thread (the SIMD switch off), and
 * vectors on three threads (more threads than cores, to shake out partitioning bugs).
 */
public final class TestBackends {
    private TestBackends() {}

    /**
     * For {@code @MethodSource}: a fresh instance of each backend, named for the test report.
     * JUnit closes each one after its test.
     */
    public static Stream<Named<Backend>> all() {
        List<Backend> backends = List.of(
                new CpuBackend(2, true),
                new CpuBackend(1, false),
                new CpuBackend(3, true));
        return backends.stream().map(backend -> Named.of(backend.name(), backend));
    }
}
