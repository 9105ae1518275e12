package dev.jbert.tokenizer;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * jbert against Hugging Face's Rust tokenizer on hostile input: every Unicode code point, and
 * hand-picked traps (accents in both normal forms, CJK beyond the BMP, emoji sequences, invisible
 * characters, every kind of space, symbols that are or are not punctuation, long words).
 */
class HuggingFaceParityTest {
    static final BertTokenizer JBERT = BertTokenizer.bertBaseUncased();
    static HuggingFaceReference hf, hfPairWindows, hfTextWindows;
    static final Truncation SMALL_WINDOWS = new Truncation(24, 6);

    @BeforeAll
    static void start() {
        hf = HuggingFaceReference.untruncated(JBERT.vocab());
        hfPairWindows = HuggingFaceReference.windowedPairs(JBERT.vocab(), SMALL_WINDOWS);
        hfTextWindows = HuggingFaceReference.windowedTexts(JBERT.vocab(), SMALL_WINDOWS);
    }

    @AfterAll
    static void stop() {
        hf.close();
        hfPairWindows.close();
        hfTextWindows.close();
    }

    static Stream<String> hostile() {
        return Stream.of(
                "",
                " ",
                "   \t\n  ",
                "Hello, World!",
                // accents: precomposed (NFC) and decomposed (NFD), stacked marks, uppercase accents
                "Café naïve résumé Ångström", "Cafe\u0301 nai\u0308ve", "a\u0301\u0302\u0303\u0304b", "ÉCOLE ÀÇÕ",
                "Z̸̢̧̛̛a̷͕̣͝l̶̡͎g̸̢͎o̷̧͓ text",
                // letters whose lower case or decomposition changes length
                "İstanbul", "ΣΑΣ σας", "ǅungla ǈ ǋ", "ﬁne ﬂow", "Straße STRASSE", "ẞ", "Ⅻ ⅻ", "㎏ ㎡",
                // CJK, Japanese, Korean, including ideographs beyond the BMP and compatibility ideographs
                "中文字符", "日本語のテキスト", "한국어 텍스트", "𠀀𠀁 𪜀 𫝀 𫠠 𬺰 𰀀", "豈 更 車", "你好world世界",
                // emoji: single, skin tones, ZWJ families, flags, keycaps, variation selectors
                "I 😀 you", "👍🏽 ok", "👨‍👩‍👧‍👦 family", "🇫🇷🇯🇵", "1️⃣ #️⃣", "☺︎ ☺️", "🥰🫠",
                // control, format and zero-width characters
                "a\u0000b", "a\u0001b\u007fc", "zero\u200bwidth", "soft\u00adhyphen", "join\u200dner\u200cnon",
                "bom\ufeffhere", "rtl\u202eevil\u202c", "lrm\u200e", "tab\there", "line\u000bvt\u000cff", "a\u0085b",
                "a\u001cb\u001dc\u001ed\u001ff", "\ufffd replacement", "private\ue000use \udb80\udc00",
                // every Unicode space
                "a\u00a0b\u1680c\u2000d\u2001e\u2002f\u2003g\u2004h\u2005i\u2006j\u2007k\u2008l\u2009m\u200an\u2028o\u2029p\u202fq\u205fr\u3000s",
                // punctuation vs symbols
                "$100 + 5^2 = `x` ~y", "a€b £c ¥d", "a§b ¶c", "x→y ≤ z ∑", "«quoted» „German“ ‘single’", "a—b–c",
                "¿Qué? ¡Sí!", "a·b", "日本。中国、", "a_b-c.d", "©®™", "a°b", "5‰", "₹500",
                // full-width forms and other compatibility characters
                "ＡＢＣ１２３！", "ｶﾀｶﾅ", "Ⓐⓑ", "x²", "½",
                // long words: exactly 100, 101, and far more characters
                "a".repeat(100), "a".repeat(101), "supercalifragilistic".repeat(40), "é".repeat(101),
                // special tokens written in the text
                "[CLS] x [SEP] y [PAD][MASK][UNK]", "a[SEP]b", "[sep] [SEP", "[[SEP]]",
                // mixed scripts and right-to-left text
                "Привет мир", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "ไทย ภาษา", "ᚠᛇᚻ", "ሰላም",
                "Ὀδυσσεύς", "ﷺ ﷽",
                // numbers and dates
                "3.14159 1,000,000 2024-01-01 10:30am");
    }

    @ParameterizedTest
    @MethodSource("hostile")
    void singleText(String text) {
        Parity.assertSame(text, hf.encode(text), List.of(JBERT.encode(text)), JBERT);
    }

    @ParameterizedTest
    @MethodSource("hostile")
    void pairWithHostileContextAndQuestion(String text) {
        Parity.assertSame(text, hf.encodePair(text, "What is " + text + "?"), List.of(JBERT.encodePair(text, "What is " + text + "?")), JBERT);
    }

    @ParameterizedTest
    @MethodSource("hostile")
    void slidingWindowsOverHostileContext(String text) {
        String context = text + " and then " + text + " once more, " + text;
        Parity.assertSame(context, hfPairWindows.encodePair("why?", context), JBERT.encodePair("why?", context, SMALL_WINDOWS), JBERT);
        Parity.assertSame(context, hfTextWindows.encode(context), JBERT.encode(context, SMALL_WINDOWS), JBERT);
    }

    /**
     * Every code point outside the surrogate range, in three positions: inside a word ("aXb"),
     * alone (" X "), and repeated ("XX"). This pins down which characters are dropped, which are
     * spaces, which are punctuation, and what every other one folds to.
     */
    @Test
    void everyCodePoint() {
        final int batch = 512;
        List<String> differences = new ArrayList<>();
        for (int first = 0; first <= Character.MAX_CODE_POINT && differences.size() < 20; first += batch) {
            int last = Math.min(Character.MAX_CODE_POINT, first + batch - 1);
            if (first >= 0xD800 && last <= 0xDFFF) continue;
            if (!Parity.probeDiffers(hf, JBERT, first, last)) continue;
            for (int cp = first; cp <= last && differences.size() < 20; cp++) {
                if (cp >= 0xD800 && cp <= 0xDFFF) continue;
                String text = Parity.probe(cp, cp);
                String difference = Parity.difference(hf.encode(text), List.of(JBERT.encode(text)), JBERT);
                if (difference != null) {
                    differences.add(String.format("U+%04X (Java type %d): %s", cp, Character.getType(cp), difference));
                }
            }
        }
        assertTrue(differences.isEmpty(), () -> differences.size() + " code points differ:\n" + String.join("\n", differences));
    }
}
