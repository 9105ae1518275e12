package dev.jbert.kernels.cuda;

import dev.jbert.kernels.Buffer;

/**
 * A device buffer for an op's intermediate results, grown on demand. A buffer it outgrew stays
 * allocated until the backend closes: ops already queued may still read it.
 */
final class Scratch {
    private final CudaBackend owner;
    private final Buffer.Type type;
    private CudaBuffer buffer;

    Scratch(CudaBackend owner, Buffer.Type type) {
        this.owner = owner;
        this.type = type;
    }

    /** The first {@code length} elements of the buffer, at least a million elements, 256-byte aligned (cudaMalloc's). */
    CudaBuffer get(int length) {
        if (buffer == null || buffer.length() < length) {
            buffer = owner.allocate(Math.max(length, 1 << 20), type);
        }
        return buffer.slice(0, length);
    }
}
