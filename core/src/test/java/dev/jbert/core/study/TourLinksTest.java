package dev.jbert.core.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * docs/tour.md links every stage to its code as {@code [Class.method](relative/path/Class.java)} or
 * {@code [Class](path)}: every linked file must exist, and every method named must be declared
 * (at any visibility) in the class that file holds, or in a class nested in it.
 */
class TourLinksTest {
    private static final Pattern LINK = Pattern.compile("\\[([^\\]]+)\\]\\(([^)\\s]+)\\)");
    private static final String SOURCES = "src/main/java/";

    @Test
    void everyLinkOfTheTourPointsAtRealCode() throws IOException {
        Path tour = Files.exists(Path.of("docs/tour.md")) ? Path.of("docs/tour.md") : Path.of("../docs/tour.md");
        String text = Files.readString(tour);
        assertTrue(LINK.matcher(text).results().count() > 20, "the tour links its stages");
        assertEquals(List.of(), problems(text, tour.getParent()));
    }

    @Test
    void aBrokenLinkOrAMissingMethodIsReported() throws IOException {
        Path docs = Path.of("docs/tour.md").toFile().exists() ? Path.of("docs") : Path.of("../docs");
        String text = """
                [BertQa.forward](../core/src/main/java/dev/jbert/core/model/BertQa.java) is fine,
                [BertQa.fly](../core/src/main/java/dev/jbert/core/model/BertQa.java) is not declared,
                [Gone.away](../core/src/main/java/dev/jbert/core/model/Gone.java) does not exist,
                [Batch](../core/src/main/java/dev/jbert/core/model/Trainer.java) names another file.
                """;
        List<String> problems = problems(text, docs);
        assertEquals(3, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("BertQa.fly"), problems.toString());
        assertTrue(problems.get(1).contains("Gone.java"), problems.toString());
        assertTrue(problems.get(2).contains("Batch"), problems.toString());
    }

    /** One line per link that does not hold: a missing file, a method not declared there, or a class name that is not the file's. */
    static List<String> problems(String markdown, Path docs) {
        List<String> problems = new ArrayList<>();
        Matcher link = LINK.matcher(markdown);
        while (link.find()) {
            String label = link.group(1), target = link.group(2);
            if (target.startsWith("http") || target.startsWith("#")) {
                continue;
            }
            Path file = docs.resolve(target.replaceFirst("#.*", "")).normalize();
            if (!Files.exists(file)) {
                problems.add(label + ": " + target + " does not exist");
            } else if (target.endsWith(".java") && label.matches("\\w+(\\.\\w+)?")) {
                String problem = checkDeclared(label, target);
                if (problem != null) {
                    problems.add(label + ": " + problem);
                }
            }
        }
        return problems;
    }

    /** Null when {@code label} (Class or Class.method) is declared in the Java file {@code target}. */
    private static String checkDeclared(String label, String target) {
        int at = target.indexOf(SOURCES);
        if (at < 0) {
            return target + " is not a main source file";
        }
        String className = target.substring(at + SOURCES.length(), target.length() - ".java".length()).replace('/', '.');
        String[] parts = label.split("\\.");
        Class<?> top;
        try {
            top = Class.forName(className, false, TourLinksTest.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            return "no class " + className;
        }
        Class<?> owner = Stream.concat(Stream.of(top), Arrays.stream(top.getDeclaredClasses()))
                .filter(c -> c.getSimpleName().equals(parts[0])).findFirst().orElse(null);
        if (owner == null) {
            return target + " declares no class " + parts[0];
        }
        if (parts.length == 2 && Arrays.stream(owner.getDeclaredMethods()).map(Method::getName).noneMatch(parts[1]::equals)) {
            return owner.getSimpleName() + " declares no method " + parts[1];
        }
        return null;
    }
}
