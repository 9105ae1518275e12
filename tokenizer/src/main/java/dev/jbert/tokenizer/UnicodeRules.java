package dev.jbert.tokenizer;

import java.text.Normalizer;

/**
 * The character rules of BERT's uncased normalizer and pre-tokenizer, as Hugging Face's
 * {@code BertNormalizer} and {@code BertPreTokenizer} define them.
 *
 * <p>For one original code point the tokenizer needs to know: is it dropped, is it a space, and
 * otherwise what it becomes after NFD, accent stripping and lower-casing ("folding"), and whether
 * each folded character is punctuation (a word of its own) or part of a word. CJK ideographs are
 * words of their own too. {@link #classify} answers that from first principles; the BMP answers are
 * cached in two tables at class load, so the hot loop does one array read per ASCII/BMP character.
 */
final class UnicodeRules {
    private UnicodeRules() {}

    // what the tokenizer does with a BMP code point, cached in KIND
    static final byte DROP = 0;     // removed: NUL, U+FFFD, control/format/unassigned, or folds to nothing
    static final byte SPACE = 1;    // a word boundary
    static final byte LETTER = 2;   // folds to the one character FOLDED[cp], which continues a word
    static final byte PUNCT = 3;    // folds to FOLDED[cp], a punctuation mark: a word of its own
    static final byte CJK = 4;      // folds to FOLDED[cp], a CJK ideograph: a word of its own
    static final byte COMPLEX = 5;  // anything else (several folded characters): ask fold() again

    /**
     * Hugging Face takes its character categories (control, punctuation, non-spacing mark) and its
     * NFD tables from Rust crates frozen at an older Unicode version than Java's. Where the two
     * disagree (characters assigned or re-categorized since), this table gives HF's view, as sorted
     * ranges: {@code [first0, last0, first1, last1, ...]} with one category per range. It was made by
     * probing HF's tokenizer on every code point (HfUnicodeTable in the tests), and the
     * every-code-point parity test keeps it honest.
     */
    private static final int[] HF_RANGES;
    private static final byte[] HF_CATEGORY;
    private static final byte HF_SAME = 0, HF_LETTER = 1, HF_PUNCTUATION = 2, HF_MARK = 3;

    static {
        String resource = "hf-unicode-categories.txt";
        try (var in = UnicodeRules.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("the bundled " + resource + " is missing from the jar");
            var lines = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).lines()
                    .map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
            HF_RANGES = new int[2 * lines.size()];
            HF_CATEGORY = new byte[lines.size()];
            for (int i = 0; i < lines.size(); i++) {
                String[] fields = lines.get(i).split("\\s+");
                String[] ends = fields[0].split("\\.\\.");
                HF_RANGES[2 * i] = Integer.parseInt(ends[0], 16);
                HF_RANGES[2 * i + 1] = Integer.parseInt(ends[ends.length - 1], 16);
                HF_CATEGORY[i] = switch (fields[1]) {
                    case "letter" -> HF_LETTER;
                    case "punctuation" -> HF_PUNCTUATION;
                    case "mark" -> HF_MARK;
                    default -> throw new IllegalStateException(resource + ": unknown category " + fields[1]);
                };
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** HF's category for {@code cp} where it differs from Java's, else HF_SAME. */
    private static byte hfCategory(int cp) {
        int i = java.util.Arrays.binarySearch(HF_RANGES, cp);
        int range = i >= 0 ? i / 2 : ((-i - 1) & 1) == 1 ? (-i - 1) / 2 : -1;  // odd insertion point: inside a range
        return range < 0 ? HF_SAME : HF_CATEGORY[range];
    }

    private static final byte[] KIND = new byte[0x10000];
    private static final char[] FOLDED = new char[0x10000];

    static {
        int[] folded = new int[8];
        for (int cp = 0; cp < 0x10000; cp++) {
            byte kind;
            if (isDropped(cp)) kind = DROP;
            else if (isWhitespace(cp)) kind = SPACE;
            else {
                int n = fold(cp, folded);
                if (n == 0) kind = DROP;
                else if (n > 1 || folded[0] > 0xFFFF || isWhitespace(folded[0])) kind = COMPLEX;
                else if (isChineseChar(cp)) kind = CJK;
                else kind = isPunctuation(folded[0]) ? PUNCT : LETTER;
                if (kind != DROP && kind != COMPLEX) FOLDED[cp] = (char) folded[0];
            }
            KIND[cp] = kind;
        }
    }

    /** The cached kind of a BMP code point, or COMPLEX for anything beyond the BMP. */
    static byte kind(int cp) {
        return cp < 0x10000 ? KIND[cp] : COMPLEX;
    }

    static char folded(int cp) {
        return FOLDED[cp];
    }

    /** clean_text's removal: NUL, the replacement character, and "control" characters. */
    static boolean isDropped(int cp) {
        return cp == 0 || cp == 0xFFFD || isControl(cp);
    }

    /**
     * HF's is_control: Unicode "Other" (Cc, Cf, Cn, Co, Cs), except tab, newline and carriage
     * return, which count as whitespace. So zero-width joiners, soft hyphens, BOMs, lone surrogates
     * and private-use characters vanish without splitting the word around them.
     */
    static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r' || hfCategory(cp) != HF_SAME) return false;
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.PRIVATE_USE, Character.SURROGATE -> true;
            default -> false;
        };
    }

    /**
     * Rust's char::is_whitespace (the Unicode White_Space property), which HF uses; note that it
     * differs from Java's Character.isWhitespace (no-break spaces are in, U+001C..U+001F are out).
     */
    static boolean isWhitespace(int cp) {
        return switch (cp) {
            case '\t', '\n', 0x0B, 0x0C, '\r', ' ', 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000 -> true;
            default -> cp >= 0x2000 && cp <= 0x200A;
        };
    }

    /** ASCII punctuation (which includes symbols such as $ + ^ and `) or any Unicode P* category. */
    static boolean isPunctuation(int cp) {
        if (cp < 0x80) {
            return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
        }
        byte hf = hfCategory(cp);
        if (hf != HF_SAME) return hf == HF_PUNCTUATION;
        return switch (Character.getType(cp)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    /** The CJK ideograph blocks that BERT surrounds with spaces (the ranges HF's normalizer uses). */
    static boolean isChineseChar(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF)
                || (cp >= 0x3400 && cp <= 0x4DBF)
                || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F)
                || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B920 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    /**
     * Folds one code point the way the uncased normalizer does: canonical decomposition (NFD),
     * then drop non-spacing marks (the accents), then lower-case each remaining character.
     * Writes the result to {@code out} and returns how many code points it has (0 to a few).
     */
    static int fold(int cp, int[] out) {
        int n = 0;
        if (cp < 0x80) {
            out[n++] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
            return n;
        }
        switch (hfCategory(cp)) {
            case HF_MARK -> { return 0; }
            case HF_LETTER, HF_PUNCTUATION -> {
                out[n++] = Character.toLowerCase(cp);
                return n;
            }
            default -> { }
        }
        String decomposed = Normalizer.normalize(Character.toString(cp), Normalizer.Form.NFD);
        for (int i = 0; i < decomposed.length(); ) {
            int c = decomposed.codePointAt(i);
            i += Character.charCount(c);
            if (Character.getType(c) != Character.NON_SPACING_MARK) out[n++] = Character.toLowerCase(c);
        }
        return n;
    }
}
