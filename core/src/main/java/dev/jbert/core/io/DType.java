package dev.jbert.core.io;

/**
 * The element types of the safetensors format. jbert reads the floating-point ones (converting to
 * float) and writes F32; the others are known only so that a header can be validated, e.g. the
 * I64 {@code position_ids} buffer that older BERT files carry.
 */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2),
    I64(8), I32(4), I16(2), I8(1), U64(8), U32(4), U16(2), U8(1), BOOL(1),
    F8_E4M3(1), F8_E5M2(1);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    /** Whether jbert can read tensors of this type as floats. */
    public boolean isReadable() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
    }

    /** The type named in a safetensors header, or null for a name the format does not define. */
    static DType parse(String name) {
        for (DType type : values()) {
            if (type.name().equals(name)) {
                return type;
            }
        }
        return null;
    }
}
