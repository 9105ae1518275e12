package dev.jbert.kernels.cpu;

import static dev.jbert.kernels.cpu.GemmKernel.MR;
import static dev.jbert.kernels.cpu.GemmKernel.NR;

import dev.jbert.bench.JmhRuns;
import dev.jbert.bench.PeakFlopsBenchmark;
import java.util.Collection;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.util.Statistics;

/**
 * The GEMM microkernel ({@link GemmKernel#tile}) alone on one thread, beside one core's FMA peak: how
 * far from the peak the kernel itself is, and how much the memory it reads adds. It lives in the
 * kernel's package because the kernel is package-private. The product's measure is whole GEMMs
 * against OpenBLAS ({@link dev.jbert.bench.GemmBenchmark}); this says where their time goes.
 *
 * <pre>
 *   operands = l1     one tile over and over at kc 256: its A and B slivers (12 and 32 KiB) stay in L1
 *   operands = l2     the tiles of one MC x NC block in the macro kernel's order, kc 256: each A sliver
 *                     is used by NC/NR tiles in a row while the packed B block (256 KiB) streams from L2
 *   operands = block  the same at the GEMM's own depth, kc = Gemm.KC (768 with a 48 KiB L1): fewer
 *                     write-backs of the tile per flop, a B block of 768 KiB
 * </pre>
 * Each in both layouts of the A sliver ({@code layout}: by steps, a transposed A's; by rows, a plain
 * A's; see {@link GemmKernel}). All write their tiles to one small C kept in cache and pack nothing, so what is left between
 * {@code block} and a whole GEMM's macro kernel is C's traffic, and between that and the GEMM, packing.
 * {@code fmaPeak} is {@link PeakFlopsBenchmark}'s register-bound loop on this one thread.
 *
 * <p>{@code scripts/bench --main dev.jbert.kernels.cpu.MicrokernelBenchmark [JMH options]} prints the table.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:-ClipInlining", "-XX:+UseTransparentHugePages"})
public class MicrokernelBenchmark {
    /** Tiles per op: about 0.1 to 0.4 ms, long enough for one call's time to mean something. */
    static final int TILES = 128;

    @Param({"l1", "l2", "block"})
    String operands;

    @Param({"steps", "rows"})
    String layout;

    int kc, aSlivers, bSlivers, strideA;
    boolean byRows;
    float[] panelA;
    float[] blockB;
    int blockAt;  // its first element on a cache line, as Gemm reads it
    final float[] c = new float[MR * NR], tile = new float[MR * NR];
    final PeakFlopsBenchmark peak = new PeakFlopsBenchmark();

    @Setup
    public void setUp() {
        boolean inL1 = operands.equals("l1");
        kc = depth(operands);
        aSlivers = inL1 ? 1 : Gemm.MC / MR;
        bSlivers = inL1 ? 1 : Gemm.NC / NR;
        byRows = layout.equals("rows");
        strideA = byRows ? GemmPacking.rowsStride(MR) : GemmPacking.stride(MR, kc);
        SplittableRandom random = new SplittableRandom(1);
        panelA = new float[aSlivers * strideA];
        for (int i = 0; i < panelA.length; i++) {
            panelA[i] = (float) random.nextDouble(-1, 1);
        }
        CacheLines.AlignedFloats aligned = CacheLines.allocate(bSlivers * GemmPacking.stride(NR, kc));
        blockB = aligned.array();
        blockAt = aligned.offset();
        for (int i = 0; i < blockB.length; i++) {
            blockB[i] = (float) random.nextDouble(-1, 1);
        }
    }

    static int depth(String operands) {
        return operands.equals("block") ? Gemm.KC : 256;
    }

    /** One op: TILES tiles, A sliver by A sliver, each across all B slivers of the block. */
    @Benchmark
    public float[] tiles() {
        int strideB = GemmPacking.stride(NR, kc);
        for (int t = 0; t < TILES; t++) {
            int r = t / bSlivers % aSlivers, s = t % bSlivers;
            GemmKernel.tile(kc, panelA, r * strideA, byRows, blockB, blockAt + s * strideB, c, 0, NR, MR, NR, 1f, 0f, tile,
                    r * strideA);  // nothing to fetch: the touches read the sliver itself, as Gemm's for a panel in L2
        }
        return c;
    }

    @Benchmark
    public float fmaPeak() {
        return peak.fma();
    }

    /** Runs both benchmarks with JMH's command-line options and prints GFLOP/s and the fraction of the peak. */
    public static void main(String[] args) throws Exception {
        Collection<RunResult> results = JmhRuns.run(args, MicrokernelBenchmark.class);
        System.out.println();
        System.out.println("# one thread; GFLOP/s of the fastest and of the median call, the kernel's and fmaPeak's (run beside it, same param)");
        System.out.printf("%-9s %-6s %-34s %8s %8s %8s %8s %8s %8s%n", "operands", "layout", "what", "best", "peak",
                "of peak", "median", "peak", "of peak");
        for (String operands : new String[] {"l1", "l2", "block"}) {
            for (String layout : new String[] {"steps", "rows"}) {
                Statistics kernel = statistics(results, "tiles", operands, layout);
                Statistics fma = statistics(results, "fmaPeak", operands, layout);
                if (kernel != null && fma != null) {
                    print(operands, layout, kernel, fma);
                }
            }
        }
    }

    private static void print(String operands, String layout, Statistics kernel, Statistics fma) {
        int kc = depth(operands);
        double flops = 2.0 * TILES * MR * NR * kc, peakFlops = PeakFlopsBenchmark.FLOPS_PER_OP;
        double best = flops / kernel.getMin() / 1e6, median = flops / kernel.getPercentile(50) / 1e6;
        double peakBest = peakFlops / fma.getMin() / 1e6, peakMedian = peakFlops / fma.getPercentile(50) / 1e6;
        String what = (operands.equals("l1") ? "one tile, in L1" : "MC x NC block, B from L2") + ", kc " + kc;
        System.out.printf("%-9s %-6s %-34s %8.1f %8.1f %7.0f%% %8.1f %8.1f %7.0f%%%n", operands, layout, what,
                best, peakBest, 100 * best / peakBest, median, peakMedian, 100 * median / peakMedian);
    }

    private static Statistics statistics(Collection<RunResult> results, String method, String operands, String layout) {
        return JmhRuns.statistics(results, params -> params.getBenchmark().endsWith("." + method)
                && operands.equals(params.getParam("operands")) && layout.equals(params.getParam("layout")));
    }
}
