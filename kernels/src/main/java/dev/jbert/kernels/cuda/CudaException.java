package dev.jbert.kernels.cuda;

/** A CUDA, cuBLAS or driver call failed; the message names the op and the library's error. */
public final class CudaException extends RuntimeException {
    CudaException(String message) {
        super(message);
    }
}
