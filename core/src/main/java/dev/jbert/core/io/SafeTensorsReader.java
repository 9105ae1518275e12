package dev.jbert.core.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory-mapped safetensors file: an 8-byte little-endian header length N, N bytes of JSON
 * ({@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}}), then the
 * tensor bytes, offsets counted from the end of the header.
 *
 * <p>Everything in the header is checked when the file is opened, before any tensor is read: a
 * corrupt or hostile file (a header longer than the file, offsets outside it or overlapping, a
 * byte count that does not match the shape) fails with one message naming the file and the
 * tensor. Tensors are read straight from the mapping, so a 440 MB model is never copied whole.
 */
public final class SafeTensorsReader implements AutoCloseable {
    /** Headers are a few kB per tensor; anything near this is not a real file. */
    static final long MAX_HEADER_BYTES = 100L << 20;

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One tensor's entry in the header; {@code begin} and {@code end} are byte offsets into the data. */
    public record TensorInfo(String name, DType type, long[] shape, long begin, long end) {
        public long elements() {
            return Shapes.elements(shape);
        }
    }

    private final Path file;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafeTensorsReader(Path file, Arena arena, MemorySegment data, Map<String, TensorInfo> tensors,
                              Map<String, String> metadata) {
        this.file = file;
        this.arena = arena;
        this.data = data;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps {@code file} and validates its header. */
    public static SafeTensorsReader open(Path file) {
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < 8) {
                throw error(file, "is " + size + " bytes, too short for a safetensors header");
            }
            MemorySegment whole = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLength = whole.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLength < 2 || headerLength > size - 8 || headerLength > MAX_HEADER_BYTES) {
                throw error(file, "header length " + Long.toUnsignedString(headerLength)
                        + " is impossible for a file of " + size + " bytes");
            }
            byte[] header = whole.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
            MemorySegment data = whole.asSlice(8 + headerLength);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorInfo> tensors = parseHeader(file, header, data.byteSize(), metadata);
            return new SafeTensorsReader(file, arena, data, tensors, metadata);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new ModelFileException(file + ": no such file");
        } catch (IOException e) {
            arena.close();
            throw new ModelFileException(file + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Map<String, TensorInfo> parseHeader(Path file, byte[] header, long dataBytes,
                                                       Map<String, String> metadata) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(new String(header, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw error(file, "header is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw error(file, "header is not a JSON object");
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            String name = entry.getKey();
            JsonNode node = entry.getValue();
            if (name.equals("__metadata__")) {
                if (!node.isObject()) {
                    throw error(file, "__metadata__ is not an object");
                }
                node.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            tensors.put(name, parseTensor(file, name, node, dataBytes));
        }
        checkNoOverlaps(file, tensors);
        return Collections.unmodifiableMap(tensors);
    }

    private static TensorInfo parseTensor(Path file, String name, JsonNode node, long dataBytes) {
        String where = "tensor " + name;
        if (!node.isObject()) {
            throw error(file, where + " is not an object");
        }
        JsonNode dtype = node.get("dtype");
        DType type = dtype != null && dtype.isTextual() ? DType.parse(dtype.asText()) : null;
        if (type == null) {
            throw error(file, where + " has an unknown dtype " + dtype);
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw error(file, where + " has no shape array");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode dim = shapeNode.get(i);
            if (!dim.canConvertToLong() || !dim.isIntegralNumber() || dim.asLong() < 0) {
                throw error(file, where + " has an invalid shape " + shapeNode);
            }
            shape[i] = dim.asLong();
        }
        long elements = Shapes.elements(shape); // -1 when it overflows
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()) {
            throw error(file, where + " has no data_offsets [begin, end]");
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin || end > dataBytes) {
            throw error(file, where + " has data_offsets [" + begin + ", " + end + "] outside the "
                    + dataBytes + " data bytes");
        }
        long needed = elements < 0 || elements > Long.MAX_VALUE / type.bytes() ? -1 : elements * type.bytes();
        if (end - begin != needed) {
            throw error(file, where + " has " + (end - begin) + " bytes, but shape " + shapeNode + " of " + type
                    + " needs " + (needed < 0 ? "more than 2^63" : needed));
        }
        return new TensorInfo(name, type, shape, begin, end);
    }

    private static void checkNoOverlaps(Path file, Map<String, TensorInfo> tensors) {
        List<TensorInfo> sorted = new ArrayList<>(tensors.values());
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        for (int i = 1; i < sorted.size(); i++) {
            TensorInfo previous = sorted.get(i - 1);
            TensorInfo current = sorted.get(i);
            if (current.begin() < previous.end()) {
                throw error(file, "tensors " + previous.name() + " and " + current.name() + " overlap");
            }
        }
    }

    public Path file() {
        return file;
    }

    /** Every tensor in the file, in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** Reads a tensor, converted to float, into {@code target} at {@code offset}. */
    public void read(String name, float[] target, int offset) {
        long count = readable(name).elements();
        if (count > target.length - offset) {
            throw new IllegalArgumentException("tensor " + name + " has " + count + " elements, target has room for "
                    + (target.length - offset));
        }
        read(name, 0, target, offset, (int) count);
    }

    /** A tensor's elements, converted to float, a range at a time (see {@link FloatSource}). */
    public FloatSource source(String name) {
        readable(name);
        return (first, into, count) -> read(name, first, into, 0, count);
    }

    /** Elements {@code [first, first + count)} of a tensor, converted to float, into {@code target} at {@code offset}. */
    private void read(String name, long first, float[] target, int offset, int count) {
        TensorInfo info = tensors.get(name);
        if (first < 0 || count < 0 || first + count > info.elements()) {
            throw new IllegalArgumentException("elements " + first + " .. " + (first + count) + " of tensor " + name
                    + ", which has " + info.elements());
        }
        MemorySegment bytes = data.asSlice(info.begin() + first * info.type().bytes(), (long) count * info.type().bytes());
        switch (info.type()) {
            case F32 -> MemorySegment.copy(bytes, FLOAT, 0, target, offset, count);
            case F64 -> {
                for (int i = 0; i < count; i++) {
                    target[offset + i] = (float) bytes.getAtIndex(DOUBLE, i);
                }
            }
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    target[offset + i] = Float.float16ToFloat(bytes.getAtIndex(SHORT, i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    // bfloat16 is the top half of a float32
                    target[offset + i] = Float.intBitsToFloat(bytes.getAtIndex(SHORT, i) << 16);
                }
            }
            default -> throw new AssertionError(info.type());
        }
    }

    /** The tensor's entry, once it is known to exist and to have a type jbert converts to float. */
    private TensorInfo readable(String name) {
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw error(file, "has no tensor " + name);
        }
        if (!info.type().isReadable()) {
            throw error(file, "tensor " + name + " is " + info.type() + "; jbert reads F32, F16, BF16 and F64");
        }
        return info;
    }

    /** Reads a whole tensor as a new float array. */
    public float[] read(String name) {
        float[] values = new float[Math.toIntExact(readable(name).elements())];
        read(name, values, 0);
        return values;
    }

    @Override
    public void close() {
        arena.close();
    }

    private static ModelFileException error(Path file, String message) {
        return new ModelFileException(file + ": " + message);
    }
}
