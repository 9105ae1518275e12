package dev.jbert.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector shape every CPU kernel uses, and the switch that turns SIMD off.
 *
 * <p>Each kernel is written as a vector loop over {@code [0, bound(n))} followed by a scalar loop
 * for the rest. With SIMD off, {@code bound} is 0 and the scalar loop does everything: the same
 * kernel, the same blocking, one lane wide. That is the scalar fast path the benchmarks compare
 * against, and a way to tell a Vector API problem from an algorithm problem.
 *
 * <p>Vector code is only fast where C2 keeps every vector in registers. A vector that has to exist
 * as an object is boxed on the heap: the step then allocates, young collections follow, and the
 * kernel runs 2-10x slower. The kernels keep four rules against it:
 * <ul>
 *   <li><b>one float shape</b>: every float (and int) vector is {@link #FLOATS} (or {@link #INTS}).
 *       The Vector API's methods are shared by all shapes, and so is their type profile. When the
 *       dropout decided 8 floats at a time with 256-bit vectors, the profiles of calls such as
 *       {@code FloatVector.broadcast} saw two vector classes, and in runs where the GELU was
 *       compiled after the dropout had run enough, C2 inlined both classes at those calls and
 *       merged their results, a merge of two box types that it cannot eliminate: the GELU boxed
 *       (145-284 young collections in three bert-base steps; 3 of 21 runs, and every run with
 *       {@code -XX:+PrintInlining}, which delays compilation). Found in PrintInlining's
 *       "TypeProfile ... = Float256Vector" lines; since the dropout keeps to one shape, no run
 *       with PrintInlining has boxed (see the README's "Speed today");</li>
 *   <li>no helper takes or returns vectors: they take arrays (see {@link #exp});</li>
 *   <li>no vector is live across a call: a value needed after one is stored first or loaded
 *       again, since a call C2 does not inline, or defers ("late inline"), boxes what crosses it;</li>
 *   <li>every JVM that runs them (the launcher, the tests, the benchmarks) passes
 *       {@code -XX:-ClipInlining}: without it C2 defers every call once a compilation holds 8000
 *       bytes of bytecode, which one GELU loop with the Vector API's layers passes.</li>
 * </ul>
 * {@code SimdShapeTest} checks the first rule on the sources.
 */
final class Simd {
    /** The widest shape this CPU runs well (16 floats with AVX-512, 8 with AVX2). */
    static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;

    /** Ints with as many lanes as {@link #FLOATS}, for masks read from int buffers. */
    static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;

    static final int LANES = FLOATS.length();

    private final boolean enabled;

    Simd(boolean enabled) {
        this.enabled = enabled;
    }

    boolean enabled() {
        return enabled;
    }

    /** Where the vector loop over {@code n} elements stops and the scalar tail begins. */
    int bound(int n) {
        return enabled ? FLOATS.loopBound(n) : 0;
    }

    /**
     * {@code dst[to .. to+n) += src[from .. from+n)}: vectors over {@code [0, bound(n))}, then one
     * float at a time. Each element gets its own single add, so SIMD on and off agree bitwise.
     */
    void addInto(float[] src, int from, float[] dst, int to, int n) {
        int i = 0;
        for (int end = bound(n); i < end; i += LANES) {
            FloatVector.fromArray(FLOATS, dst, to + i).add(FloatVector.fromArray(FLOATS, src, from + i))
                    .intoArray(dst, to + i);
        }
        for (; i < n; i++) {
            dst[to + i] += src[from + i];
        }
    }

    /** Per thread: two vector accumulators' lanes, stored there for {@link #sum}. */
    private static final ThreadLocal<float[]> LANES_SCRATCH = ThreadLocal.withInitial(() -> new float[2 * LANES]);

    /** This thread's {@code 2 LANES} floats of scratch for {@link #sum} (fetch it once per task, not per row). */
    static float[] lanes() {
        return LANES_SCRATCH.get();
    }

    /**
     * The sum of {@code lanes[0 .. LANES)}, added in lane order; the caller stores its vector
     * accumulator there first ({@code acc.intoArray(lanes, 0)}). Not {@code reduceLanes(ADD)}: its
     * order is unspecified, and the JIT-compiled and interpreted versions differ in the last bit,
     * which made two identical training runs in one JVM drift apart. An array and not a vector, for
     * the reason {@link #exp} gives: the JIT left a vector version of this helper out of line in
     * the softmax ("NodeCountInliningCutoff": its budget went to {@code exp}), so every row's
     * accumulator was boxed on the heap, step after step.
     */
    static float sum(float[] lanes) {
        return sum(lanes, 0);
    }

    /** The sum of {@code lanes[at .. at+LANES)}, in lane order, as {@link #sum(float[])}. */
    static float sum(float[] lanes, int at) {
        float sum = 0;
        for (int lane = 0; lane < LANES; lane++) {
            sum += lanes[at + lane];
        }
        return sum;
    }

    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HIGH = 0.693359375f;    // ln 2 = LN2_HIGH + LN2_LOW, the first exact in 10 bits
    private static final float LN2_LOW = -2.12194440e-4f;
    private static final float ROUNDER = 12582912f;        // 1.5 * 2^23: x + ROUNDER - ROUNDER rounds x to an integer
    private static final float EXP_LOWEST = -87.3f;        // below it e^x is under the smallest normal float: 0
    private static final float EXP_HIGHEST = 88.7f;        // above it e^x overflows: infinity

    /**
     * {@code a[at .. at+LANES) = e^a} lane by lane, from plain IEEE arithmetic only, so that
     * interpreted and compiled code give the same bits (the Vector API's EXP does not: its
     * intrinsic and its fallback differ by an ulp). Cody-Waite: {@code x = n ln 2 + r} with n an
     * integer and |r| <= ln 2 / 2, e^r by its Taylor series to r^7 (error under 1e-8, below float's
     * resolution), times 2^n built from the exponent bits.
     *
     * <p>why an array and not a vector in and out: vectors only stay in registers in code the JIT
     * compiles as one piece. Whether it inlines a helper into the caller's loop depends on the
     * profile it has gathered when it compiles (a call site it does not judge hot is inlined only
     * under 35 bytes of bytecode, and the vector version of this one had 216), so it differs from
     * run to run, and a helper it did not inline gets its vector arguments and result boxed on the
     * heap. Measured: in one bert-base bench run, softmax and GELU ran 5-10x slower and the step
     * took 83 s instead of about 50. A helper that takes an array costs at most a call and a store
     * and load in L1 when it is not inlined. So no helper takes or returns vectors: a row reduction
     * stores its accumulator and calls {@link #sum}, and a row's maximum is {@code reduceLanes(MAX)},
     * an intrinsic.
     */
    static void exp(float[] a, int at) {
        FloatVector x = FloatVector.fromArray(FLOATS, a, at);
        FloatVector clamped = x.max(EXP_LOWEST).min(EXP_HIGHEST);
        FloatVector n = clamped.mul(LOG2E).add(ROUNDER).sub(ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(FLOATS, -LN2_HIGH), clamped);
        r = n.fma(FloatVector.broadcast(FLOATS, -LN2_LOW), r);
        // Horner, highest power first: 1/7! r + 1/6!, ..., then r + 1 twice
        FloatVector p = FloatVector.broadcast(FLOATS, 1f / 5040);
        p = p.fma(r, FloatVector.broadcast(FLOATS, 1f / 720));
        p = p.fma(r, FloatVector.broadcast(FLOATS, 1f / 120));
        p = p.fma(r, FloatVector.broadcast(FLOATS, 1f / 24));
        p = p.fma(r, FloatVector.broadcast(FLOATS, 1f / 6));
        p = p.fma(r, FloatVector.broadcast(FLOATS, 0.5f));
        p = p.fma(r, FloatVector.broadcast(FLOATS, 1f));
        p = p.fma(r, FloatVector.broadcast(FLOATS, 1f));
        IntVector exponent = (IntVector) n.convert(VectorOperators.F2I, 0);
        FloatVector twoToN = exponent.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        p.mul(twoToN)
                .blend(0f, x.lt(EXP_LOWEST))
                .blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_HIGHEST))
                .intoArray(a, at);
    }
}
