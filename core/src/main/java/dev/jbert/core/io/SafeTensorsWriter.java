package dev.jbert.core.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Writes F32 tensors as a safetensors file that Hugging Face's {@code safetensors} and
 * {@code from_pretrained} load, atomically (see {@link AtomicFiles}).
 */
public final class SafeTensorsWriter {
    /** One tensor to write: its name, its shape and its values in row-major order, read a chunk at a time. */
    public record Tensor(String name, long[] shape, FloatSource values) {
        /** A tensor whose values are already in an array. */
        public Tensor(String name, long[] shape, float[] values) {
            this(name, shape, FloatSource.of(values));
            if (elements() != values.length) {
                throw new IllegalArgumentException("tensor " + name + ": " + values.length
                        + " values for a shape of " + elements() + " elements");
            }
        }

        public long elements() {
            long elements = 1;
            for (long dim : shape) {
                elements *= dim;
            }
            return elements;
        }
    }

    private SafeTensorsWriter() {}

    public static void write(Path file, List<Tensor> tensors, Map<String, String> metadata) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Tensor tensor : tensors) {
            ObjectNode entry = header.putObject(tensor.name());
            entry.put("dtype", "F32");
            var shape = entry.putArray("shape");
            for (long dim : tensor.shape()) {
                shape.add(dim);
            }
            long bytes = 4L * tensor.elements();
            entry.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] headerBytes = header.toString().getBytes(StandardCharsets.UTF_8);
        // pad the header with spaces to a multiple of 8, as the reference implementation does,
        // so that the tensor data starts aligned
        int padded = (headerBytes.length + 7) / 8 * 8;
        ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(padded).put(headerBytes);
        while (prefix.hasRemaining()) {
            prefix.put((byte) ' ');
        }
        prefix.flip();
        AtomicFiles.write(file, channel -> {
            while (prefix.hasRemaining()) {
                channel.write(prefix);
            }
            float[] values = new float[FloatSource.CHUNK];
            ByteBuffer chunk = ByteBuffer.allocate(4 * FloatSource.CHUNK).order(ByteOrder.LITTLE_ENDIAN);
            for (Tensor tensor : tensors) {
                long elements = tensor.elements();
                for (long first = 0; first < elements; first += FloatSource.CHUNK) {
                    int n = (int) Math.min(FloatSource.CHUNK, elements - first);
                    tensor.values().read(first, values, n);
                    chunk.clear();
                    chunk.asFloatBuffer().put(values, 0, n);
                    chunk.limit(4 * n);
                    while (chunk.hasRemaining()) {
                        channel.write(chunk);
                    }
                }
            }
        });
    }
}
