package dev.jbert.core;

import dev.jbert.kernels.cuda.Cuda;
import java.util.stream.Stream;

/**
 * The {@code --device} values that a test of whole runs covers: the CPU, and the GPU where there is
 * one ({@code scripts/gpu-run} runs these tests on the device machine).
 */
public final class TestDevices {
    private TestDevices() {}

    /** For {@code @MethodSource("dev.jbert.core.TestDevices#all")}. */
    public static Stream<String> all() {
        return Cuda.available() ? Stream.of("cpu", "cuda") : Stream.of("cpu");
    }
}
