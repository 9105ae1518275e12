package dev.jbert.kernels.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * The hand-written kernels ({@code kernels/src/main/cuda/*.cu}) and how to launch them. The build
 * compiles each {@code .cu} file with nvcc into a fatbin of machine code for sm_80 and sm_90 (no
 * PTX, so the driver never JIT-compiles and its PTX version does not matter), packed into the jar
 * next to this class; a module is loaded the first time one of its kernels is used.
 *
 * <p>Launch arguments go through one reusable block of 8-byte slots: {@code cuLaunchKernel} takes
 * {@code void** kernelParams}, an array with the address of each argument's value, and copies the
 * values before it returns, so the block can be refilled for the next launch. (The array must go
 * in as a {@link PointerPointer}: JavaCPP passes a plain {@code Pointer} for a {@code void**} by
 * reference, one level too deep.)
 */
final class CudaKernels implements AutoCloseable {
    /** A kernel: the {@code .cu} file (module) it lives in and its {@code extern "C"} name. */
    record Kernel(String module, String name) {}

    private static final int MAX_ARGUMENTS = 24;

    private final CUctx_st context;
    private final Map<String, CUmod_st> modules = new HashMap<>();
    private final Map<Kernel, CUfunc_st> functions = new HashMap<>();
    private final List<CUmod_st> loaded = new ArrayList<>();
    private final BytePointer slots = new BytePointer(8L * MAX_ARGUMENTS);
    private final PointerPointer<RawPointer> slotAddresses = new PointerPointer<>(MAX_ARGUMENTS);
    private Thread contextThread;

    CudaKernels(CUctx_st context) {
        this.context = context;
        for (int i = 0; i < MAX_ARGUMENTS; i++) {
            slotAddresses.put(i, new RawPointer(slots.address() + 8L * i));
        }
        contextThread = Thread.currentThread();
    }

    /**
     * Enqueues {@code kernel} on the default stream with a {@code gridX x gridY} grid of
     * {@code blockX x blockY} threads. Arguments: a {@link CudaBuffer} or null (a pointer),
     * {@link Long} (64-bit), {@link Integer}, {@link Float}.
     */
    void launch(Kernel kernel, int gridX, int gridY, int blockX, int blockY, Object... arguments) {
        if (gridX == 0 || gridY == 0) {
            return; // nothing to do: an empty grid is an error for the driver
        }
        makeContextCurrent();
        CUfunc_st function = function(kernel);
        if (arguments.length > MAX_ARGUMENTS) {
            throw new IllegalArgumentException(kernel.name() + ": too many arguments");
        }
        for (int i = 0; i < arguments.length; i++) {
            long offset = 8L * i;
            switch (arguments[i]) {
                case null -> slots.putLong(offset, 0L);
                case CudaBuffer buffer -> slots.putLong(offset, buffer.address);
                case Long value -> slots.putLong(offset, value);
                case Integer value -> slots.putInt(offset, value);
                case Float value -> slots.putFloat(offset, value);
                default -> throw new IllegalArgumentException(kernel.name() + ": unsupported argument " + arguments[i]);
            }
        }
        CudaStatus.driver(cudart.cuLaunchKernel(function, gridX, gridY, 1, blockX, blockY, 1, 0, null,
                slotAddresses, (PointerPointer<?>) null), "launching kernel " + kernel.name());
    }

    /** The driver API needs the context current on the calling thread; the runtime API sets it on first use. */
    private void makeContextCurrent() {
        Thread current = Thread.currentThread();
        if (current != contextThread) {
            CudaStatus.driver(cudart.cuCtxSetCurrent(context), "cuCtxSetCurrent");
            contextThread = current;
        }
    }

    private CUfunc_st function(Kernel kernel) {
        CUfunc_st function = functions.get(kernel);
        if (function == null) {
            function = new CUfunc_st();
            CudaStatus.driver(cudart.cuModuleGetFunction(function, module(kernel.module()), kernel.name()),
                    "finding kernel " + kernel.name() + " in " + kernel.module() + ".fatbin");
            functions.put(kernel, function);
        }
        return function;
    }

    private CUmod_st module(String name) {
        CUmod_st module = modules.get(name);
        if (module == null) {
            byte[] image = fatbin(name);
            module = new CUmod_st();
            try (BytePointer bytes = new BytePointer(image)) {
                CudaStatus.driver(cudart.cuModuleLoadData(module, bytes), "loading " + name + ".fatbin");
            }
            modules.put(name, module);
            loaded.add(module);
        }
        return module;
    }

    private static byte[] fatbin(String name) {
        String resource = name + ".fatbin";
        try (InputStream in = CudaKernels.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new CudaException("the CUDA kernels are not in this build (" + resource
                        + " is missing): nvcc was not found when jbert was built; install the CUDA toolkit and rebuild");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new CudaException("reading " + resource + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        makeContextCurrent();
        for (CUmod_st module : loaded) {
            cudart.cuModuleUnload(module);
        }
        loaded.clear();
        modules.clear();
        functions.clear();
        slots.close();
        slotAddresses.close();
    }
}
