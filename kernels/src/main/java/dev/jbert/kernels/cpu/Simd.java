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

    /** The sum of a vector's lanes. */
    static float sum(FloatVector v) {
        return v.reduceLanes(VectorOperators.ADD);
    }

    /** The largest of a vector's lanes. */
    static float max(FloatVector v) {
        return v.reduceLanes(VectorOperators.MAX);
    }

    /** e^v lane by lane (an intrinsic: SVML on x86). */
    static FloatVector exp(FloatVector v) {
        return v.lanewise(VectorOperators.EXP);
    }
}
