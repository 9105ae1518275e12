package dev.jbert.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jbert.kernels.cpu.CpuBackend;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The profiler times the ops of a record, and only those; either way the ops do their work. */
class OpProfilerTest {
    @Test
    void timesTheOpsOfARecordOnly() {
        try (Backend cpu = new CpuBackend(1, true)) {
            OpProfiler profiler = new OpProfiler(cpu);
            Backend backend = profiler.backend();
            Buffer a = backend.allocateFloats(6);
            Buffer b = backend.allocateFloats(4);
            backend.fill(a, 1);
            assertEquals(List.of(), profiler.entries(), "an op outside a record is not timed");
            profiler.record(() -> {
                backend.fill(b, 2);
                backend.gemm(false, false, 2, 2, 3, 1, a, a, 0, b); // [2, 3] x [3, 2] of ones
                backend.gemm(false, false, 2, 2, 3, 1, a, a, 1, b);
                // the same product as a batch of its two rows, added once more: named with its batch
                backend.gemmBatched(false, false, 1, 2, 3, 1, a, MatrixLayout.dense(1, 3), a, new MatrixLayout(2, 1, 0, 0),
                        1, b, MatrixLayout.dense(1, 2), 2);
            });
            backend.fill(a, 5);
            List<String> ops = profiler.entries().stream().map(e -> e.op() + " x" + e.calls()).sorted().toList();
            assertEquals(List.of("fill x1", "gemm NN 2x2x3 x2", "gemmBatched NN 1x2x3 x2 x1"), ops);
            float[] result = new float[4];
            cpu.copyOut(b, result);
            assertArrayEquals(new float[] {9, 9, 9, 9}, result);
        }
    }
}
