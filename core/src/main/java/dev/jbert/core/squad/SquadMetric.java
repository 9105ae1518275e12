package dev.jbert.core.squad;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The official SQuAD v1.1 metric, {@code evaluate-v1.1.py}, step for step: normalize both answers
 * (lowercase, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace), then exact
 * match and token F1, each the best over a question's gold answers, averaged over all questions
 * as percentages.
 *
 * <p>Python's string rules are reproduced, not Java's: {@code str.lower()} (final sigma included),
 * {@code string.punctuation} (32 ASCII characters only), {@code re}'s Unicode {@code \b} and
 * {@code str.split()}'s whitespace; each was checked against Python 3.11 on every code point. The
 * one difference left is the Unicode version: characters assigned or changed since Python's
 * tables (3.11 has Unicode 14, JDK 25 Unicode 16) are lowercased and classed by the newer ones here.
 */
public final class SquadMetric {
    /** Python's {@code string.punctuation}. Unicode punctuation such as '–' or '“' stays. */
    private static final String PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    /**
     * The script's result, percentages as it prints them; {@code answered} counts the questions
     * that had a prediction (the others score 0 and the script warns about them on stderr).
     */
    public record Scores(double exactMatch, double f1, int total, int answered) {}

    private SquadMetric() {}

    /** {@code normalize_answer}: lower, remove_punc, remove_articles, white_space_fix, in that order. */
    public static String normalize(String text) {
        return String.join(" ", split(removeArticles(removePunctuation(lower(text)))));
    }

    /** {@code exact_match_score}: the normalized strings are equal (two answers of only articles match). */
    public static boolean exactMatch(String prediction, String truth) {
        return normalize(prediction).equals(normalize(truth));
    }

    /** {@code f1_score}: F1 of the normalized tokens, counted as multisets; 0 when none are shared. */
    public static double f1(String prediction, String truth) {
        List<String> predictionTokens = split(normalize(prediction));
        List<String> truthTokens = split(normalize(truth));
        // Counter(prediction) & Counter(truth): each token counts min(times in one, times in the other)
        Map<String, Integer> unmatched = new HashMap<>();
        for (String token : predictionTokens) unmatched.merge(token, 1, Integer::sum);
        int same = 0;
        for (String token : truthTokens) {
            if (unmatched.getOrDefault(token, 0) > 0) {
                unmatched.merge(token, -1, Integer::sum);
                same++;
            }
        }
        if (same == 0) return 0;
        double precision = 1.0 * same / predictionTokens.size();
        double recall = 1.0 * same / truthTokens.size();
        return (2 * precision * recall) / (precision + recall);
    }

    /**
     * {@code evaluate}: questions in the gold map's order (the sums are in floating point, so the
     * order is the file's when a LinkedHashMap is passed), a missing prediction scores 0, and
     * predictions for ids not in the gold answers are ignored.
     */
    public static Scores score(Map<String, List<String>> goldAnswersById, Map<String, String> predictionsById) {
        // the script divides by zero here
        if (goldAnswersById.isEmpty()) throw new IllegalArgumentException("no questions to score");
        int exactMatches = 0;
        double f1 = 0;
        int answered = 0;
        for (Map.Entry<String, List<String>> gold : goldAnswersById.entrySet()) {
            String prediction = predictionsById.get(gold.getKey());
            if (prediction == null) continue;
            // max() over no answers fails in the script too
            if (gold.getValue().isEmpty()) throw new IllegalArgumentException("question " + gold.getKey() + " has no answers");
            answered++;
            boolean matched = false;
            double bestF1 = 0;
            for (String truth : gold.getValue()) {
                matched |= exactMatch(prediction, truth);
                bestF1 = Math.max(bestF1, f1(prediction, truth));
            }
            if (matched) exactMatches++;
            f1 += bestF1;
        }
        int total = goldAnswersById.size();
        return new Scores(100.0 * exactMatches / total, 100.0 * f1 / total, total, answered);
    }

    /** The script's output line, {@code json.dumps} of its result: {@code {"exact_match": 81.2, "f1": 88.5}}. */
    public static String toJson(Scores scores) {
        return "{\"exact_match\": " + pythonFloat(scores.exactMatch()) + ", \"f1\": " + pythonFloat(scores.f1()) + "}";
    }

    /**
     * Python's {@code repr} of a finite float, which json.dumps prints: the shortest digits that
     * read back as the same double, positional for decimal exponents -4..15 ({@code 100.0},
     * {@code 0.0001}), else {@code 1e-05}, {@code 1.5e+16}.
     */
    static String pythonFloat(double value) {
        if (!Double.isFinite(value)) throw new IllegalArgumentException("not finite: " + value);
        String sign = Double.doubleToRawLongBits(value) < 0 ? "-" : "";
        double magnitude = Math.abs(value);
        // Double.toString (JDK 19+) gives the shortest round-trip digits, closest to the value, as
        // Python does; but where one digit is enough it picks among two-digit decimals too, which
        // only matters for subnormals (4.9E-324 where Python prints 5e-324)
        BigDecimal shortest = new BigDecimal(Double.toString(magnitude));
        BigDecimal oneDigit = new BigDecimal(magnitude).round(new MathContext(1, RoundingMode.HALF_EVEN));
        if (Double.parseDouble(oneDigit.toString()) == magnitude) shortest = oneDigit;
        shortest = shortest.stripTrailingZeros();
        String digits = shortest.unscaledValue().toString();
        int exponent = shortest.precision() - shortest.scale() - 1;   // value = d.ddd × 10^exponent
        if (exponent < -4 || exponent >= 16) {
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
        }
        if (exponent < 0) return sign + "0." + "0".repeat(-exponent - 1) + digits;
        if (digits.length() <= exponent + 1) return sign + digits + "0".repeat(exponent + 1 - digits.length()) + ".0";
        return sign + digits.substring(0, exponent + 1) + "." + digits.substring(exponent + 1);
    }

    /**
     * {@code str.lower()}. Per code point Java's full lowercase mapping is Python's ('İ' → "i̇"
     * too); the one rule that reads context, capital sigma's final form, Java reads differently
     * ("ΑΣ–Σ": Java "ασ–ς", Python "ας–σ"), so sigma gets Python's rule.
     */
    private static String lower(String text) {
        StringBuilder out = new StringBuilder(text.length());
        int from = 0;
        for (int sigma = text.indexOf('Σ'); sigma >= 0; sigma = text.indexOf('Σ', from)) {
            out.append(text.substring(from, sigma).toLowerCase(Locale.ROOT)).append(isFinalSigma(text, sigma) ? 'ς' : 'σ');
            from = sigma + 1;
        }
        return out.append(text.substring(from).toLowerCase(Locale.ROOT)).toString();
    }

    /**
     * CPython's {@code handle_capital_sigma}: final when a cased letter comes before (skipping
     * case-ignorables) and none comes after (skipping case-ignorables), i.e. at the end of a word.
     */
    private static boolean isFinalSigma(String text, int sigma) {
        int before = sigma;
        while (before > 0 && isCaseIgnorable(text.codePointBefore(before))) before = text.offsetByCodePoints(before, -1);
        if (before == 0 || !isCased(text.codePointBefore(before))) return false;
        int after = sigma + 1;
        while (after < text.length() && isCaseIgnorable(text.codePointAt(after))) after = text.offsetByCodePoints(after, 1);
        return after == text.length() || !isCased(text.codePointAt(after));
    }

    /** Unicode's Cased: Lowercase, Uppercase or titlecase (Java's isLowerCase and isUpperCase include the Other_ properties). */
    private static boolean isCased(int cp) {
        return Character.isLowerCase(cp) || Character.isUpperCase(cp) || Character.isTitleCase(cp);
    }

    /** Unicode's Case_Ignorable: categories Mn, Me, Cf, Lm, Sk, and Word_Break MidLetter, MidNumLet or Single_Quote. */
    private static boolean isCaseIgnorable(int cp) {
        return switch (Character.getType(cp)) {
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.FORMAT,
                 Character.MODIFIER_LETTER, Character.MODIFIER_SYMBOL -> true;
            default -> switch (cp) {
                case '\'', '.', ':', 0x00B7, 0x0387, 0x055F, 0x05F4, 0x2018, 0x2019, 0x2024, 0x2027,
                     0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A -> true;
                default -> false;
            };
        };
    }

    private static String removePunctuation(String text) {
        StringBuilder kept = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (PUNCTUATION.indexOf(c) < 0) kept.append(c);
        }
        return kept.toString();
    }

    /**
     * {@code re.sub(r'\b(a|an|the)\b', ' ', text)}. A match starts and ends at a word boundary and
     * holds only word characters, so it is a whole run of word characters: replace each run that is
     * exactly "a", "an" or "the" with a space. Word characters are re's: Unicode letters, numbers and
     * '_', but not combining marks: the "the" of a decomposed "théory" (e, U+0301) goes.
     */
    private static String removeArticles(String text) {
        StringBuilder out = new StringBuilder(text.length());
        int i = 0;
        while (i < text.length()) {
            int cp = text.codePointAt(i);
            if (!isWordCharacter(cp)) {
                out.appendCodePoint(cp);
                i += Character.charCount(cp);
                continue;
            }
            int end = i;
            while (end < text.length() && isWordCharacter(text.codePointAt(end))) end = text.offsetByCodePoints(end, 1);
            String word = text.substring(i, end);
            out.append(word.equals("a") || word.equals("an") || word.equals("the") ? " " : word);
            i = end;
        }
        return out.toString();
    }

    /** re's {@code \w} for str patterns: {@code str.isalnum()} or '_', which is Unicode categories L* and N*. */
    private static boolean isWordCharacter(int cp) {
        return switch (Character.getType(cp)) {
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
                 Character.MODIFIER_LETTER, Character.OTHER_LETTER,
                 Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> true;
            default -> cp == '_';
        };
    }

    /** {@code str.split()}: the non-empty runs between whitespace; nothing for a blank string. */
    private static List<String> split(String text) {
        List<String> tokens = new ArrayList<>();
        int start = -1;
        for (int i = 0; i < text.length(); i++) {
            boolean space = isPythonWhitespace(text.charAt(i));
            if (space && start >= 0) {
                tokens.add(text.substring(start, i));
                start = -1;
            } else if (!space && start < 0) {
                start = i;
            }
        }
        if (start >= 0) tokens.add(text.substring(start));
        return tokens;
    }

    /**
     * {@code str.isspace()}: bidirectional class WS, B or S, or category Zs (29 characters, all in
     * the BMP). Unlike Java's Character.isWhitespace it includes the no-break spaces (U+00A0,
     * U+2007, U+202F) and U+0085.
     */
    private static boolean isPythonWhitespace(char c) {
        return switch (c) {
            case '\t', '\n', '\u000B', '\f', '\r', '\u001C', '\u001D', '\u001E', '\u001F', ' ', '\u0085', '\u00A0',
                 '\u1680', '\u2028', '\u2029', '\u202F', '\u205F', '\u3000' -> true;
            default -> c >= '\u2000' && c <= '\u200A';
        };
    }
}
