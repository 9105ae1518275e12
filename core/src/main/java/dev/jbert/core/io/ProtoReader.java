package dev.jbert.core.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Just enough of the protobuf wire format to read TensorFlow's {@code BundleEntryProto} and ONNX's
 * {@code ModelProto}: varints, fixed-width numbers and length-delimited fields, with unknown fields
 * skipped. (A whole protobuf library for a handful of messages of file formats that no longer
 * change would be the heavier choice.) A tag is {@code fieldNumber << 3 | wireType}. Malformed
 * input throws IllegalArgumentException; callers name the file.
 */
public final class ProtoReader {
    public static final int VARINT = 0;
    public static final int FIXED64 = 1;
    public static final int LENGTH_DELIMITED = 2;
    public static final int FIXED32 = 5;

    private final byte[] bytes;
    private int position;
    private final int end;

    public ProtoReader(byte[] bytes) {
        this(bytes, 0, bytes.length);
    }

    private ProtoReader(byte[] bytes, int start, int end) {
        this.bytes = bytes;
        this.position = start;
        this.end = end;
    }

    public boolean hasMore() {
        return position < end;
    }

    /** The next field's tag: {@code fieldNumber << 3 | wireType}. */
    public int readTag() {
        return (int) readVarint();
    }

    public long readVarint() {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte b = next();
            value |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                return value;
            }
        }
        throw new IllegalArgumentException("malformed varint");
    }

    public int readFixed32() {
        int value = 0;
        for (int i = 0; i < 4; i++) {
            value |= (next() & 0xFF) << (8 * i);
        }
        return value;
    }

    /** A length-delimited field as a reader of its own. */
    public ProtoReader readMessage() {
        int length = readLength();
        ProtoReader message = new ProtoReader(bytes, position, position + length);
        position += length;
        return message;
    }

    /** A length-delimited field's bytes as a little-endian view, not a copy (tensor data can be large). */
    public ByteBuffer readBytes() {
        int length = readLength();
        ByteBuffer view = ByteBuffer.wrap(bytes, position, length).slice().order(ByteOrder.LITTLE_ENDIAN);
        position += length;
        return view;
    }

    public String readString() {
        int length = readLength();
        String value = new String(bytes, position, length, StandardCharsets.UTF_8);
        position += length;
        return value;
    }

    private int readLength() {
        long length = readVarint();
        if (length < 0 || length > end - position) {
            throw new IllegalArgumentException("field length " + length + " runs past the message");
        }
        return (int) length;
    }

    public void skip(int wireType) {
        switch (wireType) {
            case VARINT -> readVarint();
            case FIXED64 -> advance(8);
            case LENGTH_DELIMITED -> readMessage();
            case FIXED32 -> advance(4);
            default -> throw new IllegalArgumentException("unsupported wire type " + wireType);
        }
    }

    private void advance(int count) {
        if (count > end - position) {
            throw new IllegalArgumentException("message truncated");
        }
        position += count;
    }

    private byte next() {
        if (position >= end) {
            throw new IllegalArgumentException("message truncated");
        }
        return bytes[position++];
    }
}
