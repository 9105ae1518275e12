/**
 * The compute ops of BERT behind one interface, {@link dev.jbert.kernels.Backend}: memory as
 * {@link dev.jbert.kernels.Buffer} handles, explicit copies in and out, and ops enqueued in order,
 * so the same model code can drive Java arrays or a GPU.
 *
 * <ul>
 *   <li>{@code dev.jbert.kernels.reference}: every op as plain loops in double precision. This is
 *       the definition the backends are tested against, and the place to read the math.
 *   <li>{@code dev.jbert.kernels.cpu}: the pure-Java backend: Vector API kernels, a cache-blocked
 *       GEMM with packed panels, and one small {@code parallelFor} for all cores.
 *   <li>{@link dev.jbert.kernels.Philox}: the counter-based RNG behind dropout, shared by every
 *       backend so that masks match bit for bit.
 * </ul>
 */
package dev.jbert.kernels;
