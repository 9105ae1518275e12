package dev.jbert.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    @TempDir
    Path dir;

    @Test
    void writtenTensorsReadBack() {
        Path file = dir.resolve("model.safetensors");
        float[] a = {1.5f, -2, 3, Float.MIN_VALUE, Float.MAX_VALUE, -0f};
        float[] b = {42};
        SafeTensorsWriter.write(file, List.of(new SafeTensorsWriter.Tensor("a", new long[] {2, 3}, a),
                new SafeTensorsWriter.Tensor("b.bias", new long[] {1}, b)), Map.of("format", "pt"));
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            assertEquals(List.of("a", "b.bias"), List.copyOf(reader.tensors().keySet()));
            assertArrayEquals(new long[] {2, 3}, reader.tensors().get("a").shape());
            assertArrayEquals(a, reader.read("a"));
            assertArrayEquals(b, reader.read("b.bias"));
            assertEquals("pt", reader.metadata().get("format"));
        }
        // the data starts 8-byte aligned, as the format's reference implementation writes it
        long headerLength = ByteBuffer.wrap(readBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLength % 8);
        assertTrue(listTemporaryFiles().isEmpty(), "no temporary file left behind");
    }

    @Test
    void aTensorLargerThanAChunkIsWrittenAndReadARangeAtATime() {
        Path file = dir.resolve("large.safetensors");
        float[] large = new float[3 * FloatSource.CHUNK + 5]; // three whole write chunks and a partial one
        for (int i = 0; i < large.length; i++) {
            large[i] = i * 0.5f - 7;
        }
        SafeTensorsWriter.write(file, List.of(new SafeTensorsWriter.Tensor("large", new long[] {large.length}, large),
                new SafeTensorsWriter.Tensor("after", new long[] {2}, new float[] {3, 4})), Map.of());
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            assertArrayEquals(large, reader.read("large"));
            assertArrayEquals(new float[] {3, 4}, reader.read("after"));
            // ranges of an odd size, as a caller streaming through a small buffer reads them
            FloatSource source = reader.source("large");
            float[] range = new float[1000];
            for (int first = 0; first < large.length; first += range.length) {
                int n = Math.min(range.length, large.length - first);
                source.read(first, range, n);
                assertArrayEquals(java.util.Arrays.copyOfRange(large, first, first + n), java.util.Arrays.copyOf(range, n),
                        "elements from " + first);
            }
            assertThrows(IllegalArgumentException.class, () -> source.read(large.length - 2, range, 3));
        }
    }

    @Test
    void halfPrecisionValuesAreWidened() throws IOException {
        float[] values = {1, -2.5f, 0.099975586f, 65504};
        ByteBuffer f16 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer bf16 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            f16.putShort(Float.floatToFloat16(v));
            bf16.putShort((short) (Float.floatToIntBits(v) >>> 16));
        }
        Path file = file("{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[8,16]}}", concat(f16.array(), bf16.array()));
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            assertArrayEquals(values, reader.read("h"));
            float[] tail = new float[2];
            reader.source("h").read(2, tail, 2);
            assertArrayEquals(new float[] {values[2], values[3]}, tail, "a range starts at its element, not its byte");
            float[] b = reader.read("b");
            for (int i = 0; i < values.length; i++) {
                assertEquals(values[i], b[i], Math.abs(values[i]) / 128, "bf16 keeps 8 bits of mantissa");
            }
        }
    }

    @Test
    void badFilesFailWithTheFileAndTheTensorNamed() throws IOException {
        assertError(Files.write(dir.resolve("short"), new byte[] {1, 2, 3}), "too short");
        assertError(rawHeader(1L << 40, new byte[16]), "header length 1099511627776 is impossible");
        assertError(rawHeader(-1, new byte[16]), "header length 18446744073709551615 is impossible");
        assertError(file("{not json", new byte[0]), "not valid JSON");
        assertError(file("[1, 2]", new byte[0]), "not a JSON object");
        assertError(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[4]),
                "tensor w has data_offsets [0, 8] outside the 4 data bytes");
        assertError(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]),
                "tensor w has 8 bytes, but shape [3] of F32 needs 12");
        assertError(file("{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]),
                "tensor w has an unknown dtype");
        assertError(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8]),
                "tensor w has an invalid shape");
        assertError(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", new byte[8]),
                "more than 2^63");
        assertError(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]), "tensors a and b overlap");
        assertError(dir.resolve("absent.safetensors"), "no such file");
        Path ints = file("{\"ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", new byte[8]);
        try (SafeTensorsReader reader = SafeTensorsReader.open(ints)) {
            ModelFileException e = assertThrows(ModelFileException.class, () -> reader.read("ids"));
            assertTrue(e.getMessage().contains("tensor ids is I64"), e.getMessage());
        }
    }

    private void assertError(Path file, String expected) {
        ModelFileException e = assertThrows(ModelFileException.class, () -> SafeTensorsReader.open(file).close());
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());
    }

    private Path file(String header, byte[] data) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        return rawHeader(json.length, concat(json, data));
    }

    private Path rawHeader(long headerLength, byte[] rest) throws IOException {
        ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerLength);
        return Files.write(Files.createTempFile(dir, "bad", ".safetensors"), concat(prefix.array(), rest));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] all = new byte[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private static byte[] readBytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private List<Path> listTemporaryFiles() {
        try (var files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
