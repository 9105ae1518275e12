package dev.jbert.core.tf;

import dev.jbert.core.io.ModelFileException;
import dev.jbert.core.io.ProtoReader;
import dev.jbert.core.io.Shapes;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A TensorFlow checkpoint ("tensor bundle"): {@code PREFIX.index}, a table from each variable's
 * name to a {@code BundleEntryProto} (dtype, shape, shard, offset, size), and the shards
 * {@code PREFIX.data-00000-of-0000N} holding the raw little-endian values.
 */
public final class TensorBundle implements AutoCloseable {
    /** TensorFlow's DataType enum values that jbert reads. */
    private static final int DT_FLOAT = 1;
    private static final int DT_HALF = 19;
    private static final int DT_BFLOAT16 = 14;

    /** One variable: its dtype (TensorFlow's enum), shape, and where its bytes are. */
    public record Entry(String name, int dtype, long[] shape, int shard, long offset, long size) {
        public long elements() {
            return Shapes.elements(shape);
        }
    }

    private final Path prefix;
    private final Map<String, Entry> entries;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment[] shards;

    private TensorBundle(Path prefix, Map<String, Entry> entries, int shardCount) {
        this.prefix = prefix;
        this.entries = entries;
        this.shards = new MemorySegment[shardCount];
    }

    /** Reads {@code PREFIX.index}; the data shards are mapped when first read. */
    public static TensorBundle open(Path prefix) {
        Path index = Path.of(prefix + ".index");
        byte[] table;
        try {
            table = Files.readAllBytes(index);
        } catch (NoSuchFileException e) {
            throw new ModelFileException(index + ": no such file (--tf-checkpoint takes the prefix, e.g. .../variables/variables)");
        } catch (IOException e) {
            throw new ModelFileException(index + ": cannot read: " + e.getMessage(), e);
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        int shardCount = 1;
        try {
            for (Map.Entry<String, byte[]> item : SsTable.read(table).entrySet()) {
                if (item.getKey().isEmpty()) {
                    shardCount = parseHeader(item.getValue());
                } else {
                    entries.put(item.getKey(), parseEntry(item.getKey(), item.getValue()));
                }
            }
        } catch (IllegalArgumentException e) {
            throw new ModelFileException(index + ": " + e.getMessage());
        }
        for (Entry entry : entries.values()) {
            if (entry.shard() < 0 || entry.shard() >= shardCount) {
                throw new ModelFileException(index + ": variable " + entry.name() + " is in shard " + entry.shard()
                        + " of " + shardCount);
            }
        }
        return new TensorBundle(prefix, Collections.unmodifiableMap(entries), shardCount);
    }

    /** BundleHeaderProto: 1 num_shards, 2 endianness (0 = little). Returns the shard count. */
    private static int parseHeader(byte[] value) {
        ProtoReader reader = new ProtoReader(value);
        int shards = 1;
        while (reader.hasMore()) {
            int tag = reader.readTag();
            switch (tag >>> 3) {
                case 1 -> shards = (int) reader.readVarint();
                case 2 -> {
                    if (reader.readVarint() != 0) {
                        throw new IllegalArgumentException("big-endian checkpoints are not supported");
                    }
                }
                default -> reader.skip(tag & 7);
            }
        }
        return shards;
    }

    /**
     * BundleEntryProto: 1 dtype, 2 shape (TensorShapeProto: repeated 2 dim {1 size}), 3 shard_id,
     * 4 offset, 5 size, 6 crc32c, 7 slices (partitioned variables: not supported).
     */
    private static Entry parseEntry(String name, byte[] value) {
        ProtoReader reader = new ProtoReader(value);
        int dtype = 0;
        long[] shape = new long[0];
        int shard = 0;
        long offset = 0;
        long size = 0;
        while (reader.hasMore()) {
            int tag = reader.readTag();
            switch (tag >>> 3) {
                case 1 -> dtype = (int) reader.readVarint();
                case 2 -> shape = parseShape(reader.readMessage());
                case 3 -> shard = (int) reader.readVarint();
                case 4 -> offset = reader.readVarint();
                case 5 -> size = reader.readVarint();
                case 7 -> throw new IllegalArgumentException("variable " + name + " is partitioned (slices), which is not supported");
                default -> reader.skip(tag & 7);
            }
        }
        return new Entry(name, dtype, shape, shard, offset, size);
    }

    private static long[] parseShape(ProtoReader shape) {
        long[] dims = new long[0];
        while (shape.hasMore()) {
            int tag = shape.readTag();
            if (tag >>> 3 == 2) {
                ProtoReader dim = shape.readMessage();
                long size = 0;
                while (dim.hasMore()) {
                    int dimTag = dim.readTag();
                    if (dimTag >>> 3 == 1) {
                        size = dim.readVarint();
                    } else {
                        dim.skip(dimTag & 7);
                    }
                }
                dims = Arrays.copyOf(dims, dims.length + 1);
                dims[dims.length - 1] = size;
            } else {
                shape.skip(tag & 7);
            }
        }
        return dims;
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    /** A variable's values as floats (float32, float16 and bfloat16 variables). */
    public float[] read(String name) {
        Entry entry = entries.get(name);
        if (entry == null) {
            throw new ModelFileException(prefix + ": the checkpoint has no variable " + name);
        }
        int bytesPerValue = switch (entry.dtype()) {
            case DT_FLOAT -> 4;
            case DT_HALF, DT_BFLOAT16 -> 2;
            default -> throw new ModelFileException(prefix + ": variable " + name + " has TensorFlow dtype "
                    + entry.dtype() + "; jbert reads float32, float16 and bfloat16");
        };
        long elements = entry.elements();
        if (entry.size() != elements * bytesPerValue) {
            throw new ModelFileException(prefix + ": variable " + name + " has " + entry.size()
                    + " bytes for " + elements + " values");
        }
        MemorySegment shard = shard(entry.shard());
        if (entry.offset() < 0 || entry.offset() + entry.size() > shard.byteSize()) {
            throw new ModelFileException(prefix + ": variable " + name + " lies outside its data shard");
        }
        MemorySegment bytes = shard.asSlice(entry.offset(), entry.size());
        float[] values = new float[Math.toIntExact(elements)];
        ValueLayout.OfShort half = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < values.length; i++) {
            values[i] = switch (entry.dtype()) {
                case DT_FLOAT -> bytes.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i);
                case DT_HALF -> Float.float16ToFloat(bytes.getAtIndex(half, i));
                default -> Float.intBitsToFloat(bytes.getAtIndex(half, i) << 16);
            };
        }
        return values;
    }

    private MemorySegment shard(int shard) {
        if (shards[shard] == null) {
            Path file = Path.of(String.format("%s.data-%05d-of-%05d", prefix, shard, shards.length));
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                shards[shard] = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            } catch (NoSuchFileException e) {
                throw new ModelFileException(file + ": no such file (a data shard of the checkpoint)");
            } catch (IOException e) {
                throw new ModelFileException(file + ": cannot read: " + e.getMessage(), e);
            }
        }
        return shards[shard];
    }

    @Override
    public void close() {
        arena.close();
    }
}
