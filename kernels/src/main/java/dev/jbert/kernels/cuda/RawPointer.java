package dev.jbert.kernels.cuda;

import org.bytedeco.javacpp.Pointer;

/**
 * A raw address wrapped for JavaCPP calls that take a {@code void*}: a device address for cuBLAS
 * operands and cudaMemcpy, or a host address for a kernel's argument slots. It owns nothing: the
 * memory belongs to whatever it came from.
 */
final class RawPointer extends Pointer {
    RawPointer(long address) {
        this.address = address;
    }
}
