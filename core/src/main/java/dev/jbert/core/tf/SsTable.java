package dev.jbert.core.tf;

import dev.jbert.core.io.ProtoReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads every key and value of a LevelDB-format table, the format of TensorFlow's checkpoint
 * {@code .index} files: data blocks of prefix-compressed entries, an index block pointing at them,
 * and a 48-byte footer ending in a magic number. Only uncompressed blocks are supported, which is
 * what TensorFlow writes for checkpoints.
 */
final class SsTable {
    private static final long MAGIC = 0xdb4775248b80fb57L;
    private static final int FOOTER_BYTES = 48;
    private static final int BLOCK_TRAILER_BYTES = 5; // compression type + crc32c

    private SsTable() {}

    /** All entries, in key order. Keys are decoded as UTF-8 strings (tensor names). */
    static Map<String, byte[]> read(byte[] table) {
        if (table.length < FOOTER_BYTES) {
            throw new IllegalArgumentException("too short for a table footer");
        }
        ByteBuffer footer = ByteBuffer.wrap(table, table.length - FOOTER_BYTES, FOOTER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        long magic = footer.getLong(table.length - 8);
        if (magic != MAGIC) {
            throw new IllegalArgumentException("not a TensorFlow checkpoint index (bad table magic)");
        }
        ProtoReader handles = new ProtoReader(Arrays.copyOfRange(table, table.length - FOOTER_BYTES, table.length - 8));
        handles.readVarint(); // metaindex offset
        handles.readVarint(); // metaindex size
        long indexOffset = handles.readVarint();
        long indexSize = handles.readVarint();
        Map<String, byte[]> entries = new LinkedHashMap<>();
        for (byte[] handle : blockEntries(table, indexOffset, indexSize).values()) {
            ProtoReader reader = new ProtoReader(handle);
            long offset = reader.readVarint();
            long size = reader.readVarint();
            entries.putAll(blockEntries(table, offset, size));
        }
        return entries;
    }

    /** The entries of one block: {@code shared, unshared, valueLength} varints, key suffix, value. */
    private static Map<String, byte[]> blockEntries(byte[] table, long offset, long size) {
        if (offset < 0 || size < 4 || offset + size + BLOCK_TRAILER_BYTES > table.length) {
            throw new IllegalArgumentException("block [" + offset + ", +" + size + ") outside the file");
        }
        int start = (int) offset;
        int end = (int) (offset + size);
        if (table[end] != 0) {
            throw new IllegalArgumentException("compressed table blocks are not supported (type " + table[end] + ")");
        }
        int restarts = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN).getInt(end - 4);
        int entriesEnd = end - 4 - 4 * restarts;
        if (restarts < 0 || entriesEnd < start) {
            throw new IllegalArgumentException("malformed block restarts");
        }
        Map<String, byte[]> entries = new LinkedHashMap<>();
        byte[] key = new byte[0];
        int position = start;
        while (position < entriesEnd) {
            int[] header = new int[3];
            for (int i = 0; i < 3; i++) {
                int value = 0;
                for (int shift = 0; ; shift += 7) {
                    byte b = table[position++];
                    value |= (b & 0x7F) << shift;
                    if (b >= 0) {
                        break;
                    }
                }
                header[i] = value;
            }
            int shared = header[0];
            int unshared = header[1];
            int valueLength = header[2];
            if (shared > key.length || position + unshared + valueLength > entriesEnd) {
                throw new IllegalArgumentException("malformed block entry");
            }
            byte[] next = Arrays.copyOf(key, shared + unshared);
            System.arraycopy(table, position, next, shared, unshared);
            position += unshared;
            key = next;
            entries.put(new String(key, StandardCharsets.UTF_8),
                    Arrays.copyOfRange(table, position, position + valueLength));
            position += valueLength;
        }
        return entries;
    }
}
