package dev.jbert.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.jbert.kernels.cpu.CpuBackend;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The reductions (GEMM, bias and LayerNorm gradients, embedding scatter-add, sum of squares) give
 * bit-identical results on 1, 2 and 3 threads: a resumed run may use another machine.
 */
class ThreadCountDeterminismTest {
    @Test
    void reductionsAreBitIdenticalForAnyThreadCount() {
        List<float[]> results = List.of(run(1), run(2), run(3));
        for (int i = 1; i < results.size(); i++) {
            assertArrayEquals(results.get(0), results.get(i), "threads " + (i + 1) + " vs 1");
        }
    }

    /** All the reductions on one backend, their outputs concatenated. */
    private static float[] run(int threads) {
        try (Backend backend = new CpuBackend(threads, true)) {
            OpHarness h = new OpHarness(backend, 99);
            int rows = 203, cols = 131, vocab = 17;
            Buffer x = h.upload(h.gaussian(rows * cols, 1));
            Buffer dy = h.upload(h.gaussian(rows * cols, 1));
            Buffer w = h.upload(h.gaussian(cols * cols, 1));

            Buffer product = backend.allocateFloats(cols * cols);
            backend.gemm(true, false, cols, cols, rows, 1, dy, x, 0, product);
            Buffer dBias = backend.allocateFloats(cols);
            backend.biasBackward(dy, dBias, rows, cols);
            Buffer mean = backend.allocateFloats(rows);
            Buffer rstd = backend.allocateFloats(rows);
            Buffer y = backend.allocateFloats(rows * cols);
            Buffer gamma = h.upload(h.gaussian(cols, 1));
            backend.layerNormForward(x, gamma, h.upload(h.gaussian(cols, 1)), y, mean, rstd, rows, cols, 1e-12f);
            Buffer dx = backend.allocateFloats(rows * cols);
            Buffer dGamma = backend.allocateFloats(cols);
            Buffer dBeta = backend.allocateFloats(cols);
            backend.layerNormBackward(dy, x, gamma, mean, rstd, dx, dGamma, dBeta, rows, cols);
            Buffer dTable = backend.allocateFloats(vocab * cols);
            backend.embeddingBackward(h.upload(h.ints(rows, vocab)), dy, dTable, rows, cols);
            Buffer sum = backend.allocateFloats(1);
            backend.sumOfSquares(w, sum);

            Function<Buffer, float[]> out = h::download;
            return concat(out.apply(product), out.apply(dBias), out.apply(dx), out.apply(dGamma),
                    out.apply(dBeta), out.apply(dTable), out.apply(sum));
        }
    }

    private static float[] concat(float[]... parts) {
        int length = 0;
        for (float[] part : parts) {
            length += part.length;
        }
        float[] all = new float[length];
        int at = 0;
        for (float[] part : parts) {
            System.arraycopy(part, 0, all, at, part.length);
            at += part.length;
        }
        return all;
    }
}
