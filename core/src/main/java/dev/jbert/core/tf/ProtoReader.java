package dev.jbert.core.tf;

/**
 * Just enough of the protobuf wire format to read TensorFlow's {@code BundleEntryProto}: varints,
 * fixed-width numbers and length-delimited fields, with unknown fields skipped. (A whole protobuf
 * library for three messages of a file format that no longer changes would be the heavier choice.)
 */
final class ProtoReader {
    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LENGTH_DELIMITED = 2;
    static final int FIXED32 = 5;

    private final byte[] bytes;
    private int position;
    private final int end;

    ProtoReader(byte[] bytes) {
        this(bytes, 0, bytes.length);
    }

    private ProtoReader(byte[] bytes, int start, int end) {
        this.bytes = bytes;
        this.position = start;
        this.end = end;
    }

    boolean hasMore() {
        return position < end;
    }

    /** The next field's tag: {@code fieldNumber << 3 | wireType}. */
    int readTag() {
        return (int) readVarint();
    }

    long readVarint() {
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

    int readFixed32() {
        int value = 0;
        for (int i = 0; i < 4; i++) {
            value |= (next() & 0xFF) << (8 * i);
        }
        return value;
    }

    /** A length-delimited field as a reader of its own. */
    ProtoReader readMessage() {
        int length = Math.toIntExact(readVarint());
        if (length < 0 || length > end - position) {
            throw new IllegalArgumentException("field length " + length + " runs past the message");
        }
        ProtoReader message = new ProtoReader(bytes, position, position + length);
        position += length;
        return message;
    }

    void skip(int wireType) {
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
