package dev.jbert.bench;

import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The machine's fp32 FMA peak on 2 threads: a register-bound loop of independent vector FMAs, no
 * memory traffic, on each of JMH's 2 threads. One op is {@link #FLOPS_PER_OP} flops on one thread,
 * timed call by call like {@link GemmBenchmark}'s GEMMs; the 2-thread peak is twice one call's rate,
 * since the loop touches no memory the two cores could share.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Threads(PeakFlopsBenchmark.THREADS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:-ClipInlining"})
public class PeakFlopsBenchmark {
    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    static final int STEPS = 100_000;
    /** 16 accumulators x lanes x 2 flops (multiply and add) per step. */
    public static final double FLOPS_PER_OP = (double) STEPS * 16 * SPECIES.length() * 2;
    static final int THREADS = 2;

    /** The 2-thread peak in GFLOP/s from the time of one call, in milliseconds. */
    static double gflops(double millisPerCall) {
        return THREADS * FLOPS_PER_OP / (millisPerCall * 1e-3) / 1e9;
    }

    float x = 0.999f, y = 1e-6f;

    @Benchmark
    public float fma() {
        FloatVector xs = FloatVector.broadcast(SPECIES, x), ys = FloatVector.broadcast(SPECIES, y);
        // 16 independent chains: enough to cover the FMA latency on two FMA ports
        FloatVector a0 = ys, a1 = ys, a2 = ys, a3 = ys, a4 = ys, a5 = ys, a6 = ys, a7 = ys;
        FloatVector a8 = ys, a9 = ys, a10 = ys, a11 = ys, a12 = ys, a13 = ys, a14 = ys, a15 = ys;
        for (int i = 0; i < STEPS; i++) {
            a0 = a0.fma(xs, ys); a1 = a1.fma(xs, ys); a2 = a2.fma(xs, ys); a3 = a3.fma(xs, ys);
            a4 = a4.fma(xs, ys); a5 = a5.fma(xs, ys); a6 = a6.fma(xs, ys); a7 = a7.fma(xs, ys);
            a8 = a8.fma(xs, ys); a9 = a9.fma(xs, ys); a10 = a10.fma(xs, ys); a11 = a11.fma(xs, ys);
            a12 = a12.fma(xs, ys); a13 = a13.fma(xs, ys); a14 = a14.fma(xs, ys); a15 = a15.fma(xs, ys);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7)
                .add(a8).add(a9).add(a10).add(a11).add(a12).add(a13).add(a14).add(a15).reduceLanes(VectorOperators.ADD);
    }
}
