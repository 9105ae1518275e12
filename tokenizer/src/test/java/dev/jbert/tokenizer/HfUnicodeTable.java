package dev.jbert.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Regenerates {@code hf-unicode-categories.txt}, the code points where HF's older Unicode tables
 * make it treat a character differently from Java's current ones. It probes HF on every code point
 * and adds each one where jbert still disagrees as a {@code letter} (the usual case: a character
 * assigned after HF's Unicode version), keeping the entries already there. Then run
 * {@link HuggingFaceParityTest#everyCodePoint()}: whatever it still reports was re-categorized in
 * some other way, and goes into the file by hand as {@code punctuation} or {@code mark}.
 *
 * <p>A tool, not a test: run it after upgrading the JDK or HF's tokenizers with
 * {@code mvn -pl tokenizer test -Dtest=HfUnicodeTable -Djbert.regenerateUnicodeTable=true}.
 */
class HfUnicodeTable {
    private static final Path FILE = Path.of("src/main/resources/dev/jbert/tokenizer/hf-unicode-categories.txt");

    @Test
    @EnabledIfSystemProperty(named = "jbert.regenerateUnicodeTable", matches = "true")
    void regenerate() throws IOException {
        List<String> header = new ArrayList<>();
        Map<Integer, String> categories = new TreeMap<>();
        for (String line : Files.readAllLines(FILE)) {
            if (line.startsWith("#")) {
                header.add(line);
            } else if (!line.isBlank()) {
                String[] fields = line.strip().split("\\s+");
                String[] ends = fields[0].split("\\.\\.");
                for (int cp = Integer.parseInt(ends[0], 16); cp <= Integer.parseInt(ends[ends.length - 1], 16); cp++) {
                    categories.put(cp, fields[1]);
                }
            }
        }
        BertTokenizer jbert = BertTokenizer.bertBaseUncased();
        int added = 0;
        try (HuggingFaceReference hf = HuggingFaceReference.untruncated(jbert.vocab())) {
            for (int first = 0; first <= Character.MAX_CODE_POINT; first += 512) {
                int last = Math.min(Character.MAX_CODE_POINT, first + 511);
                if (Parity.probeDiffers(hf, jbert, first, last)) {
                    for (int cp = first; cp <= last; cp++) {
                        if (Parity.probeDiffers(hf, jbert, cp, cp) && categories.putIfAbsent(cp, "letter") == null) added++;
                    }
                }
            }
        }
        List<String> lines = new ArrayList<>(header);
        int start = -1, previous = -2;
        String category = null;
        for (var entry : categories.entrySet()) {
            if (entry.getKey() != previous + 1 || !entry.getValue().equals(category)) {
                if (start >= 0) lines.add(range(start, previous, category));
                start = entry.getKey();
                category = entry.getValue();
            }
            previous = entry.getKey();
        }
        if (start >= 0) lines.add(range(start, previous, category));
        Files.write(FILE, lines);
        System.out.println("added " + added + " code points; " + FILE + " has " + (lines.size() - header.size()) + " ranges");
    }

    private static String range(int first, int last, String category) {
        return (first == last ? String.format("%04X", first) : String.format("%04X..%04X", first, last)) + " " + category;
    }
}
