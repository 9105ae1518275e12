package dev.jbert.kernels.cuda;

import dev.jbert.kernels.Buffer;

/**
 * A CUDA buffer: {@code length} 4-byte elements at a device address. A slice is the same memory at
 * an offset address; only the buffer that allocated the memory frees it (see {@link CudaBackend#close}).
 */
final class CudaBuffer implements Buffer {
    final CudaBackend owner;
    final long address;
    private final Type type;
    private final int length;

    CudaBuffer(CudaBackend owner, long address, Type type, int length) {
        this.owner = owner;
        this.address = address;
        this.type = type;
        this.length = length;
    }

    @Override
    public Type type() {
        return type;
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public CudaBuffer slice(int offset, int sliceLength) {
        if (offset < 0 || sliceLength < 0 || offset > length - sliceLength) {
            throw new IndexOutOfBoundsException("slice [" + offset + ", +" + sliceLength + ") of a buffer of " + length);
        }
        return new CudaBuffer(owner, address + 4L * offset, type, sliceLength);
    }

    RawPointer pointer() {
        return new RawPointer(address);
    }

    @Override
    public String toString() {
        return "CudaBuffer[" + type + " x " + length + " at 0x" + Long.toHexString(address) + "]";
    }
}
