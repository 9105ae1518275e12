package dev.jbert.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.jbert.core.io.SafeTensorsReader;
import java.nio.file.Path;

/** The tiny QA fixture as the importer tests use it: the source of their foreign files, and the answer. */
public final class TinyQaFixture {
    public static final Path DIR = Path.of("src/test/resources/fixtures/tiny-qa");

    private TinyQaFixture() {}

    /** {@code out} holds exactly the fixture's encoder, and no QA head (imported encoders have none). */
    public static void assertImportedExactly(Path out) {
        try (SafeTensorsReader converted = SafeTensorsReader.open(out.resolve(ModelDirectory.WEIGHTS));
             SafeTensorsReader original = SafeTensorsReader.open(DIR.resolve(ModelDirectory.WEIGHTS))) {
            for (String name : original.tensors().keySet()) {
                if (name.startsWith("qa_outputs")) {
                    assertNull(converted.tensors().get(name), "an imported encoder has no QA head");
                } else {
                    assertArrayEquals(original.read(name), converted.read(name), name);
                }
            }
        }
    }

    /** A row-major [rows, cols] matrix as [cols, rows]. */
    public static float[] transpose(float[] values, int rows, int cols) {
        float[] t = new float[values.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = values[r * cols + c];
            }
        }
        return t;
    }
}
