package dev.jbert.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The first of {@link Simd}'s rules, read off the sources: no kernel names a float or int vector
 * shape other than the preferred one. A second shape shares the Vector API's type profiles with the
 * first, and C2 then boxed the GELU's vectors in some runs. (A shape reached without being named,
 * by {@code convert} or {@code cast} to a different lane count, is not caught here.)
 */
class SimdShapeTest {
    private static final Pattern OTHER_SHAPE = Pattern.compile("(Float|Int)Vector\\.SPECIES_(?!PREFERRED\\b)\\w+");

    @Test
    void kernelsNameNoFloatOrIntShapeButThePreferredOne() throws IOException {
        Path sources = Path.of("src/main/java");
        assertTrue(Files.isDirectory(sources), "run from the kernels module: " + sources.toAbsolutePath());
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.walk(sources)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                List<String> lines = Files.readAllLines(file);
                for (int i = 0; i < lines.size(); i++) {
                    if (OTHER_SHAPE.matcher(lines.get(i)).find()) {
                        found.add(sources.relativize(file) + ":" + (i + 1) + ": " + lines.get(i).strip());
                    }
                }
            }
        }
        assertEquals(List.of(), found, "vector shapes other than SPECIES_PREFERRED (see Simd's class comment)");
    }

    @Test
    void thePatternCatchesASecondShape() {
        assertTrue(OTHER_SHAPE.matcher("FloatVector.zero(FloatVector.SPECIES_256)").find());
        assertTrue(OTHER_SHAPE.matcher("IntVector.SPECIES_MAX").find());
        assertFalse(OTHER_SHAPE.matcher("FloatVector.SPECIES_PREFERRED").find());
    }
}
