package dev.jbert.core.io;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** The protobuf wire format, written: enough for tests to build the files ProtoReader reads. */
public final class ProtoWriter {
    private ProtoWriter() {}

    /** A varint field. */
    public static byte[] field(int number, long value) {
        return concat(varint((long) number << 3), varint(value));
    }

    /** A length-delimited field: a message, bytes or a packed list. */
    public static byte[] lengthDelimited(int number, byte[] value) {
        return concat(varint((long) number << 3 | 2), varint(value.length), value);
    }

    public static byte[] string(int number, String value) {
        return lengthDelimited(number, value.getBytes(StandardCharsets.UTF_8));
    }

    /** The fields of a message, in order. */
    public static byte[] message(byte[]... fields) {
        return concat(fields);
    }

    public static byte[] varint(long value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while ((value & ~0x7FL) != 0) {
            out.write((int) (value & 0x7F) | 0x80);
            value >>>= 7;
        }
        out.write((int) value);
        return out.toByteArray();
    }

    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }
}
