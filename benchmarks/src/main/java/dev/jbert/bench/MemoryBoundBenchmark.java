package dev.jbert.bench;

import dev.jbert.kernels.AdamW;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import dev.jbert.kernels.cpu.CpuBackend;
import dev.jbert.kernels.cpu.Parallel;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.util.Statistics;

/**
 * The memory-bound ops of a bert-base training step at batch 8 x 384 (3072 tokens), through the
 * {@link Backend} interface on 2 threads, in GB/s, against this machine's copy bandwidth at the
 * same size, measured in the same run.
 *
 * <p>GB/s counts the bytes an op must move at least (each input read once, each output written
 * once), so 100% of copy means the op runs as fast as memory lets any op of that size run.
 * Sizes matter: 9 MB fits a server's last-level cache and 440 MB does not, so each op is compared
 * with a copy of its own size.
 *
 * <p>{@code scripts/bench --main dev.jbert.bench.MemoryBoundBenchmark [JMH options]} prints the
 * table after the JMH output. {@code -p simd=false} measures the scalar path instead.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:-ClipInlining", "--enable-native-access=ALL-UNNAMED", "-Xmx8g"})
public class MemoryBoundBenchmark {
    static final int TOKENS = 8 * 384, HIDDEN = 768, FFN = 3072, HEADS = 12, SEQUENCE = 384;
    static final int PARAMETERS = 109_483_778; // bert-base with the QA head

    /**
     * One op and what it moves: {@code elements} floats in its main tensor, {@code bytesPerElement}
     * read plus written per element.
     */
    record Op(String name, int elements, int bytesPerElement) {
        double bytes() {
            return (double) elements * bytesPerElement;
        }
    }

    static final List<Op> OPS = List.of(
            new Op("copy.hidden", TOKENS * HIDDEN, 8),
            new Op("add", TOKENS * HIDDEN, 12),
            new Op("layerNorm.fwd", TOKENS * HIDDEN, 8),
            new Op("layerNorm.bwd", TOKENS * HIDDEN, 12),
            new Op("copy.ffn", TOKENS * FFN, 8),
            new Op("gelu.fwd", TOKENS * FFN, 8),
            new Op("gelu.bwd", TOKENS * FFN, 12),
            new Op("copy.probs", 8 * HEADS * SEQUENCE * SEQUENCE, 8),
            new Op("softmax.fwd", 8 * HEADS * SEQUENCE * SEQUENCE, 8),
            new Op("softmax.bwd", 8 * HEADS * SEQUENCE * SEQUENCE, 12),
            new Op("dropout", 8 * HEADS * SEQUENCE * SEQUENCE, 8),
            new Op("copy.params", PARAMETERS, 8),
            new Op("adamW", PARAMETERS, 28)); // reads p, g, m, v; writes p, m, v

    @Param({"copy.hidden", "add", "layerNorm.fwd", "layerNorm.bwd", "copy.ffn", "gelu.fwd", "gelu.bwd",
            "copy.probs", "softmax.fwd", "softmax.bwd", "dropout", "copy.params", "adamW"})
    public String op;

    @Param({"true"})
    public boolean simd;

    Backend backend;
    Parallel copyThreads;
    float[] copySource, copyTarget;
    Buffer x, y, z, w, rowsA, rowsB, gamma, beta, dGamma, dBeta, mask;
    int rows, cols;
    AdamW adamW = new AdamW(3e-5f, 0.9f, 0.999f, 1e-8f, 0.01f);

    @Setup(Level.Trial)
    public void setUp() {
        backend = new CpuBackend(2, simd);
        int elements = find(op).elements();
        if (op.startsWith("copy")) {
            copyThreads = new Parallel(2);
            copySource = random(elements);
            copyTarget = new float[elements];
            return;
        }
        cols = op.startsWith("softmax") || op.equals("dropout") ? SEQUENCE : op.startsWith("gelu") ? FFN : HIDDEN;
        rows = elements / cols;
        x = upload(random(elements));
        y = upload(random(elements));
        z = upload(random(elements));
        if (op.equals("adamW")) {
            w = upload(random(elements));
        }
        rowsA = upload(random(rows));
        rowsB = backend.allocateFloats(rows);
        gamma = upload(random(cols));
        beta = upload(random(cols));
        dGamma = backend.allocateFloats(cols);
        dBeta = backend.allocateFloats(cols);
        if (op.startsWith("softmax")) {
            int[] ones = new int[8 * SEQUENCE];
            Arrays.fill(ones, 1);
            mask = backend.allocateInts(ones.length);
            backend.copyIn(ones, mask);
        }
        if (op.equals("layerNorm.bwd")) {
            backend.layerNormForward(x, gamma, beta, z, rowsA, rowsB, rows, cols, 1e-12f);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        if (copyThreads != null) {
            copyThreads.close();
        }
    }

    @Benchmark
    public void run() {
        switch (op) {
            case "copy.hidden", "copy.ffn", "copy.probs", "copy.params" -> copy();
            case "add" -> backend.add(x, y, z);
            case "layerNorm.fwd" -> backend.layerNormForward(x, gamma, beta, y, rowsA, rowsB, rows, cols, 1e-12f);
            case "layerNorm.bwd" -> backend.layerNormBackward(y, x, gamma, rowsA, rowsB, z, dGamma, dBeta, rows, cols);
            case "gelu.fwd" -> backend.geluForward(x, y);
            case "gelu.bwd" -> backend.geluBackward(x, y, z);
            case "softmax.fwd" -> backend.attentionSoftmaxForward(x, mask, y, 8, HEADS, SEQUENCE, 0.125f);
            case "softmax.bwd" -> backend.attentionSoftmaxBackward(x, y, z, 8, HEADS, SEQUENCE, 0.125f);
            case "dropout" -> backend.dropout(x, y, 0.1f, 42, 1);
            case "adamW" -> backend.adamW(x, y, z, w, adamW, 1000);
            default -> throw new IllegalArgumentException(op);
        }
    }

    /** The bandwidth reference: a plain copy, split over the same 2 threads. */
    private void copy() {
        copyThreads.parallelForRanges(copySource.length, 1 << 16,
                (first, last) -> System.arraycopy(copySource, first, copyTarget, first, last - first));
    }

    private Buffer upload(float[] values) {
        Buffer buffer = backend.allocateFloats(values.length);
        backend.copyIn(values, buffer);
        return buffer;
    }

    /** Small positive values: softmax inputs, AdamW's second moment and all, stay well-behaved. */
    private static float[] random(int n) {
        SplittableRandom random = new SplittableRandom(n);
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) random.nextDouble(0.001, 0.01);
        }
        return values;
    }

    static Op find(String name) {
        return OPS.stream().filter(op -> op.name().equals(name)).findFirst().orElseThrow();
    }

    /** Runs the benchmark with JMH's command-line options, then prints GB/s and % of copy. */
    public static void main(String[] args) throws Exception {
        Collection<RunResult> results = JmhRuns.run(args, MemoryBoundBenchmark.class);
        System.out.println();
        System.out.printf("%-14s %12s %10s %10s %9s%n", "op", "elements", "ms", "GB/s", "of copy");
        double copy = Double.NaN;
        for (Op op : OPS) {
            double perSecond = score(results, op.name());
            if (Double.isNaN(perSecond)) {
                continue;
            }
            double gbPerSecond = op.bytes() * perSecond / 1e9;
            if (op.name().startsWith("copy")) {
                copy = gbPerSecond;
            }
            System.out.printf("%-14s %12d %10.3f %10.1f %8.0f%%%n", op.name(), op.elements(), 1e3 / perSecond,
                    gbPerSecond, 100 * gbPerSecond / copy);
        }
    }

    /** JMH's score (the mean of the iterations, ops/s) of {@code op}, or NaN if it did not run. */
    static double score(Collection<RunResult> results, String op) {
        Statistics samples = JmhRuns.statistics(results, params -> op.equals(params.getParam("op")));
        return samples == null ? Double.NaN : samples.getMean();
    }
}
