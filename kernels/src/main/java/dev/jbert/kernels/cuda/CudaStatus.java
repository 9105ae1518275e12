package dev.jbert.kernels.cuda;

import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;

/** Every status code the backend receives goes through here: anything but success throws, naming the op. */
final class CudaStatus {
    private CudaStatus() {}

    /** A CUDA runtime call ({@code cuda...}). */
    static void runtime(int status, String op) {
        if (status != cudart.cudaSuccess) {
            throw new CudaException(op + " failed: " + cudart.cudaGetErrorName(status).getString()
                    + " (" + cudart.cudaGetErrorString(status).getString() + ")");
        }
    }

    /** A CUDA driver call ({@code cu...}). */
    static void driver(int status, String op) {
        if (status != cudart.CUDA_SUCCESS) {
            String name = "error " + status;
            try (PointerPointer<BytePointer> text = new PointerPointer<>(1)) {
                if (cudart.cuGetErrorName(status, text) == cudart.CUDA_SUCCESS && text.get(0) != null) {
                    name = new BytePointer(text.get(0)).getString();
                }
            }
            throw new CudaException(op + " failed: " + name);
        }
    }

    /** A cuBLAS call. */
    static void blas(int status, String op) {
        if (status != cublas.CUBLAS_STATUS_SUCCESS) {
            throw new CudaException(op + " failed: " + cublas.cublasGetStatusName(status).getString()
                    + " (" + cublas.cublasGetStatusString(status).getString() + ")");
        }
    }
}
