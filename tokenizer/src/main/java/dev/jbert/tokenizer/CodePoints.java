package dev.jbert.tokenizer;

/**
 * The one place where Java's UTF-16 strings meet code points.
 *
 * <p>Every offset jbert reports counts code points, as Python's {@code str} and SQuAD's
 * {@code answer_start} do. A Java {@code String} counts UTF-16 units, which differ for characters
 * outside the BMP (emoji, rare CJK). A lone surrogate counts as one code point, as in Python.
 */
public final class CodePoints {
    private CodePoints() {}

    /** The code points of {@code text}; a lone surrogate becomes one code point of its own. */
    public static int[] of(String text) {
        int n = text.length();
        int[] out = new int[n];
        int count = 0;
        for (int i = 0; i < n; ) {
            char c = text.charAt(i++);
            if (Character.isHighSurrogate(c) && i < n && Character.isLowSurrogate(text.charAt(i))) {
                out[count++] = Character.toCodePoint(c, text.charAt(i++));
            } else {
                out[count++] = c;
            }
        }
        return count == n ? out : java.util.Arrays.copyOf(out, count);
    }

    /** {@code text[start, end)} with both ends counted in code points. */
    public static String substring(String text, int start, int end) {
        int from = text.offsetByCodePoints(0, start);
        return text.substring(from, text.offsetByCodePoints(from, end - start));
    }
}
