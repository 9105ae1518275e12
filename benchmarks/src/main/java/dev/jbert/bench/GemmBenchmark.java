package dev.jbert.bench;

import dev.jbert.kernels.MatrixLayout;
import dev.jbert.kernels.cpu.CacheLines;
import dev.jbert.kernels.cpu.Gemm;
import dev.jbert.kernels.cpu.Parallel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import org.bytedeco.javacpp.FloatPointer;
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
 * Every GEMM of a bert-base training step at batch 8 x 384 tokens (3072 rows), 2 threads: jbert's
 * {@link Gemm} against OpenBLAS ({@link OpenBlas}, cblas_sgemm) in the same run. One op is one GEMM
 * (or one batch of 96 for attention), timed one call at a time (JMH's sample mode), so GFLOP/s =
 * {@link Shape#flops()} / seconds per call / 1e9.
 *
 * <p>why the best call as well as the median: these 2-vCPU VMs share their hosts, and a call that
 * another tenant interrupts can take 10x as long. The fastest call of a few hundred says what the
 * code can do on the machine; the median says what a busy machine gave. Both are reported for both
 * implementations, measured in the same run, and the ratio of JMH's own score (the mean call).
 *
 * <p>Both sides' operands are on transparent huge pages where the kernel offers them: jbert's heap
 * through {@code -XX:+UseTransparentHugePages}, as the {@code jbert} launcher runs it, and
 * OpenBLAS's native copies through {@link OpenBlas#hugePageCopy}. Measured in one JVM per setting
 * ({@code benchmarks/results/Gemm-pair-probe-huge-pages-2026-11-27-0909.txt}, 2 threads, median
 * calls): with huge pages jbert's attention-output weight gradient, FFN-down forward and QKV forward
 * ran 3-6% faster, OpenBLAS's 2-4%; jbert / OpenBLAS 0.93 -> 0.94, 0.91 -> 0.92, 0.92 -> 0.94.
 *
 * <p>Both sides' operands start on a 64-byte cache line, as jbert's CPU backend allocates its buffers
 * ({@code CpuBuffer.ofFloats}) and PyTorch's allocator does for OpenBLAS: jbert's arrays at their
 * first aligned element ({@link CacheLines}), OpenBLAS's copies at their first aligned float. Before
 * 2026-11-27 19:45 both sides' operands lay 16 bytes past a line (a large Java array and malloc's
 * blocks alike).
 *
 * <p>Linear weights are W[out][in]: forward y = x Wᵀ, dX = dY W, dW += dYᵀ X. Attention is 8 x 12
 * heads of T = 384, D = 64. The goal is at least OpenBLAS's speed on every shape.
 *
 * <p>{@link #main} runs this and {@link PeakFlopsBenchmark} and prints a table of GFLOP/s and the
 * jbert / OpenBLAS ratio: {@code scripts/bench --main dev.jbert.bench.GemmBenchmark [JMH options]}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:-ClipInlining", "--enable-native-access=ALL-UNNAMED", "-Xmx8g",
        "-XX:+UseTransparentHugePages"})
public class GemmBenchmark {
    static final int ROWS = 8 * 384, HEADS = 8 * 12, T = 384, D = 64;

    /** One GEMM of the training step: C[m][n] (batch of them) = op(A)[m][k] op(B)[k][n] + beta C. */
    record Shape(String name, boolean transA, boolean transB, int m, int n, int k, float beta, int batch) {
        double flops() {
            return 2.0 * m * n * k * batch;
        }

        /** GFLOP/s at one statistic of JMH's samples (milliseconds a call): the fastest call, the median, the mean. */
        double gflops(Statistics samples, ToDoubleFunction<Statistics> millis) {
            return samples == null ? Double.NaN : flops() / (millis.applyAsDouble(samples) * 1e-3) / 1e9;
        }
    }

    static final List<Shape> SHAPES = new ArrayList<>();

    static {
        int[][] linears = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};  // {out, in}
        String[] names = {"qkv", "attnOut", "ffnUp", "ffnDown"};
        for (int l = 0; l < linears.length; l++) {
            int out = linears[l][0], in = linears[l][1];
            SHAPES.add(new Shape(names[l] + ".fwd", false, true, ROWS, out, in, 0f, 1));  // y = x Wᵀ
            SHAPES.add(new Shape(names[l] + ".dX", false, false, ROWS, in, out, 0f, 1));  // dX = dY W
            SHAPES.add(new Shape(names[l] + ".dW", true, false, out, in, ROWS, 1f, 1));   // dW += dYᵀ X
        }
        SHAPES.add(new Shape("attn.scores", false, true, T, T, D, 0f, HEADS));   // Q Kᵀ
        SHAPES.add(new Shape("attn.context", false, false, T, D, T, 0f, HEADS)); // P V
        SHAPES.add(new Shape("attn.dP", false, true, T, T, D, 0f, HEADS));       // dCtx Vᵀ
        SHAPES.add(new Shape("attn.dV", true, false, T, D, T, 0f, HEADS));       // Pᵀ dCtx
        SHAPES.add(new Shape("attn.dQ", false, false, T, D, T, 0f, HEADS));      // dS K
        SHAPES.add(new Shape("attn.dK", true, false, T, D, T, 0f, HEADS));       // dSᵀ Q
    }

    static Shape shape(String name) {
        return SHAPES.stream().filter(s -> s.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no GEMM shape " + name));
    }

    @Param({"qkv.fwd", "qkv.dX", "qkv.dW", "attnOut.fwd", "attnOut.dX", "attnOut.dW",
            "ffnUp.fwd", "ffnUp.dX", "ffnUp.dW", "ffnDown.fwd", "ffnDown.dX", "ffnDown.dW",
            "attn.scores", "attn.context", "attn.dP", "attn.dV", "attn.dQ", "attn.dK"})
    String shape;

    /**
     * Which implementation runs. JMH runs the parameter combinations with the names in alphabetical
     * order, the first varying slowest: named "impl", this ran every jbert shape first and every
     * OpenBLAS shape five minutes later, and these shared VMs drift over minutes (a training step
     * went from 6.2 to 7.1 s within half an hour). As "side" (after "shape"), each shape's two sides
     * run back to back.
     */
    @Param({"jbert", "openblas"})
    String side;

    Shape s;
    int strideA, strideB, strideC;
    MatrixLayout aLayout, bLayout, cLayout; // dense: jbert's and OpenBLAS's operands alike
    Parallel parallel;
    Gemm gemm;
    float[] a, b, c;
    int aAt, bAt, cAt;  // where jbert's operands start in their arrays: the first aligned element
    FloatPointer aNative, bNative, cNative;
    FloatPointer[] aViews, bViews, cViews;  // matrix i of a batch, made once

    @Setup(Level.Trial)
    public void setUp() {
        s = shape(shape);
        strideA = s.m() * s.k();
        strideB = s.k() * s.n();
        strideC = s.m() * s.n();
        aLayout = MatrixLayout.dense(s.transA() ? s.k() : s.m(), s.transA() ? s.m() : s.k());
        bLayout = MatrixLayout.dense(s.transB() ? s.n() : s.k(), s.transB() ? s.k() : s.n());
        cLayout = MatrixLayout.dense(s.m(), s.n());
        SplittableRandom random = new SplittableRandom(1);
        float[] aValues = random(random, strideA * s.batch());
        float[] bValues = random(random, strideB * s.batch());
        float[] cValues = random(random, strideC * s.batch());
        if (side.equals("jbert")) {
            parallel = new Parallel(2);
            gemm = new Gemm(parallel, true);
            CacheLines.AlignedFloats aligned = alignedCopy(aValues);
            a = aligned.array();
            aAt = aligned.offset();
            aligned = alignedCopy(bValues);
            b = aligned.array();
            bAt = aligned.offset();
            aligned = alignedCopy(cValues);
            c = aligned.array();
            cAt = aligned.offset();
        } else {
            OpenBlas.setThreads(2);
            aNative = OpenBlas.hugePageCopy(aValues);
            bNative = OpenBlas.hugePageCopy(bValues);
            cNative = OpenBlas.hugePageCopy(cValues);
            aViews = views(aNative, strideA, s.batch());
            bViews = views(bNative, strideB, s.batch());
            cViews = views(cNative, strideC, s.batch());
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (parallel != null) {
            parallel.close();
        }
        for (FloatPointer p : new FloatPointer[] {aNative, bNative, cNative}) {
            if (p != null) {
                p.close();
            }
        }
    }

    @Benchmark
    public void gemm() {
        if (gemm != null) {
            gemm.gemmBatched(s.transA(), s.transB(), s.m(), s.n(), s.k(), 1f,
                    a, aAt, aLayout, b, bAt, bLayout, s.beta(), c, cAt, cLayout, s.batch());
        } else {
            // OpenBLAS has no batched sgemm in this binding: one call per matrix, each on its 2 threads
            for (int i = 0; i < s.batch(); i++) {
                OpenBlas.sgemm(s.transA(), s.transB(), s.m(), s.n(), s.k(), 1f, aViews[i], bViews[i], s.beta(), cViews[i]);
            }
        }
    }

    static float[] random(SplittableRandom random, int size) {
        float[] x = new float[size];
        for (int i = 0; i < size; i++) {
            x[i] = (float) random.nextDouble(-1, 1);
        }
        return x;
    }

    /** The values in an array one cache line longer, from its first aligned element on. */
    static CacheLines.AlignedFloats alignedCopy(float[] values) {
        CacheLines.AlignedFloats copy = CacheLines.allocate(values.length);
        System.arraycopy(values, 0, copy.array(), copy.offset(), values.length);
        return copy;
    }

    /** Matrix i of a batch, {@code stride} floats apart from where {@code base} is positioned. */
    static FloatPointer[] views(FloatPointer base, int stride, int count) {
        FloatPointer[] views = new FloatPointer[count];
        for (int i = 0; i < count; i++) {
            views[i] = new FloatPointer(base).position(base.position() + (long) i * stride);
        }
        return views;
    }

    /** Runs the GEMMs and the FMA peak with JMH's command-line options, then prints the GFLOP/s table. */
    public static void main(String[] args) throws Exception {
        Collection<RunResult> results = JmhRuns.run(args, GemmBenchmark.class, PeakFlopsBenchmark.class);
        Statistics peak = JmhRuns.statistics(results,
                params -> params.getBenchmark().contains(PeakFlopsBenchmark.class.getSimpleName()));
        System.out.println();
        System.out.println("# openblas: " + OpenBlas.describe().replace("\n", " ").strip() + " (in this JVM; the forks set 2 threads)");
        double peakBest = peak == null ? Double.NaN : PeakFlopsBenchmark.gflops(peak.getMin());
        double peakMedian = peak == null ? Double.NaN : PeakFlopsBenchmark.gflops(peak.getPercentile(50));
        System.out.printf("# 2-thread fp32 FMA peak (PeakFlopsBenchmark): best %.1f GFLOP/s, median %.1f%n", peakBest, peakMedian);
        System.out.println("# GFLOP/s of the fastest call (best) and of the median call, ratio = jbert / openblas;"
                + " last, the ratio of JMH's score (the mean call)");
        System.out.printf("%-14s %-22s %9s %9s %6s %8s %9s %9s %6s %6s%n", "shape", "(tA,tB) m x n x k",
                "jbert", "openblas", "ratio", "of peak", "jbert", "openblas", "ratio", "ratio");
        System.out.printf("%-14s %-22s %35s %26s %6s%n", "", "", "---------------- best ---------------",
                "-------- median --------", "mean");
        // the lowest ratio by each measure, and its shape: the goal is no shape under GOAL by any of them
        double[] lowest = {Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY};
        String[] lowestShape = new String[3];
        for (Shape shape : SHAPES) {
            Statistics jbert = statistics(results, shape, "jbert"), openblas = statistics(results, shape, "openblas");
            if (jbert == null && openblas == null) {
                continue;
            }
            double jBest = shape.gflops(jbert, Statistics::getMin), oBest = shape.gflops(openblas, Statistics::getMin);
            double jMedian = shape.gflops(jbert, MEDIAN), oMedian = shape.gflops(openblas, MEDIAN);
            double jMean = shape.gflops(jbert, Statistics::getMean), oMean = shape.gflops(openblas, Statistics::getMean);
            String dims = "(%s,%s) %dx%dx%d%s".formatted(shape.transA() ? "T" : "N", shape.transB() ? "T" : "N",
                    shape.m(), shape.n(), shape.k(), shape.batch() > 1 ? " x" + shape.batch() : "");
            double[] ratios = {jBest / oBest, jMedian / oMedian, jMean / oMean};
            System.out.printf("%-14s %-22s %9.1f %9.1f %6.3f %7.0f%% %9.1f %9.1f %6.3f %6.3f%n", shape.name(), dims,
                    jBest, oBest, ratios[0], 100 * jBest / peakBest, jMedian, oMedian, ratios[1], ratios[2]);
            for (int measure = 0; measure < ratios.length; measure++) {
                if (ratios[measure] < lowest[measure]) {
                    lowest[measure] = ratios[measure];
                    lowestShape[measure] = shape.name();
                }
            }
        }
        boolean met = Arrays.stream(lowest).allMatch(ratio -> ratio >= GOAL);
        System.out.printf("# lowest ratio: best calls %.3f (%s), medians %.3f (%s), means %.3f (%s): %s%n",
                lowest[0], lowestShape[0], lowest[1], lowestShape[1], lowest[2], lowestShape[2],
                met ? "every shape run at " + GOAL + "x OpenBLAS or above by all three" : "some shape under " + GOAL + "x OpenBLAS");
    }

    private static final ToDoubleFunction<Statistics> MEDIAN = samples -> samples.getPercentile(50);
    /** The goal: no shape under this fraction of OpenBLAS's speed, by best, median or mean calls. */
    private static final double GOAL = 0.9;

    static Statistics statistics(Collection<RunResult> results, Shape shape, String side) {
        return JmhRuns.statistics(results,
                params -> shape.name().equals(params.getParam("shape")) && side.equals(params.getParam("side")));
    }
}
