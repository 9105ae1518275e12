/**
 * The definition of every op: plain loops in double precision, written to be read, with the
 * shapes in the comments. Each method mirrors one {@link dev.jbert.kernels.Backend} op (same name,
 * same argument order, whole arrays instead of buffers).
 *
 * <p>Nothing here is fast, and nothing needs to be: the test harness holds every backend's
 * float results to these, and the gradient checks hold every backward here to finite differences
 * of its forward (which is why they are in double: a central difference in float loses half its
 * digits).
 */
package dev.jbert.kernels.reference;
