package dev.jbert.tokenizer;

import static org.junit.jupiter.api.Assertions.fail;

import dev.jbert.tokenizer.HuggingFaceReference.Expected;
import java.util.List;

/** Compares jbert's windows with HF's and explains the first difference in terms a person can act on. */
final class Parity {
    private Parity() {}

    /** Null when equal, else a description of the first difference. */
    static String difference(List<Expected> expected, List<Window> actual, BertTokenizer tokenizer) {
        if (expected.size() != actual.size()) {
            return "HF made " + expected.size() + " windows, jbert " + actual.size();
        }
        for (int w = 0; w < expected.size(); w++) {
            Expected e = expected.get(w);
            Window a = actual.get(w);
            if (!e.matches(a)) {
                return "window " + w + ":\n  HF    " + describe(e.ids(), e.typeIds(), e.starts(), e.ends(), tokenizer)
                        + "\n  jbert " + describe(a.inputIds(), a.tokenTypeIds(), a.offsetStarts(), a.offsetEnds(), tokenizer);
            }
        }
        return null;
    }

    static void assertSame(String input, List<Expected> expected, List<Window> actual, BertTokenizer tokenizer) {
        String difference = difference(expected, actual, tokenizer);
        if (difference != null) fail("input " + escape(input) + "\n" + difference);
    }

    private static String describe(int[] ids, int[] types, int[] starts, int[] ends, BertTokenizer tokenizer) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            sb.append(tokenizer.vocab().token(ids[i])).append('/').append(types[i]);
            if (starts[i] >= 0) sb.append('(').append(starts[i]).append(',').append(ends[i]).append(')');
            sb.append(' ');
        }
        return sb.toString();
    }

    /** The input with every non-ASCII or control character written as \\u{XXXX}. */
    static String escape(String s) {
        StringBuilder sb = new StringBuilder("\"");
        s.codePoints().forEach(cp -> {
            if (cp >= 0x20 && cp < 0x7F) sb.appendCodePoint(cp);
            else sb.append(String.format("\\u{%04X}", cp));
        });
        return sb.append('"').toString();
    }

    /**
     * A text that shows how HF treats each code point in {@code [first, last]}: inside a word
     * ("aXb"), alone (" X "), and doubled ("XX"). Surrogates are skipped: HF cannot take them.
     */
    static String probe(int first, int last) {
        StringBuilder sb = new StringBuilder();
        for (int cp = first; cp <= last; cp++) {
            if (cp >= 0xD800 && cp <= 0xDFFF) continue;
            sb.append('a').appendCodePoint(cp).append("b ").appendCodePoint(cp).append(' ')
                    .appendCodePoint(cp).appendCodePoint(cp).append(' ');
        }
        return sb.toString();
    }

    /** Whether jbert and HF disagree anywhere on {@link #probe} of {@code [first, last]}. */
    static boolean probeDiffers(HuggingFaceReference hf, BertTokenizer jbert, int first, int last) {
        String text = probe(first, last);
        return !text.isEmpty() && difference(hf.encode(text), List.of(jbert.encode(text)), jbert) != null;
    }
}
