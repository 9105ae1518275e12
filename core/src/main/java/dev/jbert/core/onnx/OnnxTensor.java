package dev.jbert.core.onnx;

import dev.jbert.core.io.ProtoReader;
import dev.jbert.core.io.Shapes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.stream.IntStream;
import java.util.stream.LongStream;

/**
 * An ONNX {@code TensorProto}: an initializer, or the value of a Constant node. The data stays as
 * the file has it, a little-endian view of {@code raw_data} (what exporters write for anything
 * large) or the typed {@code float_data} / {@code int64_data} lists, and is decoded on demand.
 * Only FLOAT and INT64 are read: jbert imports fp32 encoders, and shapes are int64.
 */
record OnnxTensor(String name, long[] dims, int dataType, ByteBuffer rawData, float[] floatData, long[] int64Data) {
    static final int FLOAT = 1;
    static final int INT64 = 7;
    private static final int EXTERNAL = 1;

    /** TensorProto: 1 dims, 2 data_type, 4 float_data, 7 int64_data, 8 name, 9 raw_data, 14 data_location. */
    static OnnxTensor parse(ProtoReader reader) {
        LongStream.Builder dims = LongStream.builder();
        IntStream.Builder floatBits = IntStream.builder();
        LongStream.Builder int64s = LongStream.builder();
        int dataType = 0;
        String name = "";
        ByteBuffer raw = null;
        while (reader.hasMore()) {
            int tag = reader.readTag();
            int wireType = tag & 7;
            switch (tag >>> 3) {
                case 1 -> readVarints(reader, wireType, dims);
                case 2 -> dataType = (int) reader.readVarint();
                case 4 -> readFloats(reader, wireType, floatBits);
                case 7 -> readVarints(reader, wireType, int64s);
                case 8 -> name = reader.readString();
                case 9 -> raw = reader.readBytes();
                case 14 -> {
                    if (reader.readVarint() == EXTERNAL) {
                        throw new IllegalArgumentException("tensor " + name + " keeps its data in an external file, which is not supported");
                    }
                }
                default -> reader.skip(wireType);
            }
        }
        float[] floats = toFloats(floatBits.build().toArray());
        return new OnnxTensor(name, dims.build().toArray(), dataType, raw, floats, int64s.build().toArray());
    }

    float[] floats() {
        require(FLOAT, "FLOAT");
        if (rawData == null) {
            requireBytes((long) floatData.length * Float.BYTES, Float.BYTES);
            return floatData;
        }
        requireBytes(rawData.remaining(), Float.BYTES);
        float[] values = new float[rawData.remaining() / Float.BYTES];
        rawData.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        return values;
    }

    long[] longs() {
        require(INT64, "INT64");
        if (rawData == null) {
            requireBytes((long) int64Data.length * Long.BYTES, Long.BYTES);
            return int64Data;
        }
        requireBytes(rawData.remaining(), Long.BYTES);
        long[] values = new long[rawData.remaining() / Long.BYTES];
        rawData.duplicate().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(values);
        return values;
    }

    private void require(int type, String typeName) {
        if (dataType != type) {
            throw new IllegalArgumentException("tensor " + name + " has ONNX data type " + dataType + ", not "
                    + typeName + " (" + type + ")");
        }
    }

    private void requireBytes(long bytes, int elementBytes) {
        if (bytes != Shapes.elements(dims) * elementBytes) {
            throw new IllegalArgumentException("tensor " + name + " has " + bytes + " bytes of data for shape "
                    + Arrays.toString(dims));
        }
    }

    // repeated numbers arrive packed (one length-delimited field) or one field per value; readers accept both

    private static void readVarints(ProtoReader reader, int wireType, LongStream.Builder values) {
        if (wireType == ProtoReader.LENGTH_DELIMITED) {
            ProtoReader packed = reader.readMessage();
            while (packed.hasMore()) {
                values.add(packed.readVarint());
            }
        } else {
            values.add(reader.readVarint());
        }
    }

    private static void readFloats(ProtoReader reader, int wireType, IntStream.Builder bits) {
        if (wireType == ProtoReader.LENGTH_DELIMITED) {
            ProtoReader packed = reader.readMessage();
            while (packed.hasMore()) {
                bits.add(packed.readFixed32());
            }
        } else {
            bits.add(reader.readFixed32());
        }
    }

    private static float[] toFloats(int[] bits) {
        float[] values = new float[bits.length];
        for (int i = 0; i < bits.length; i++) {
            values[i] = Float.intBitsToFloat(bits[i]);
        }
        return values;
    }
}
