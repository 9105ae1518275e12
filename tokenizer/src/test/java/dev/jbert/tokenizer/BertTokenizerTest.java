package dev.jbert.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the tokenizer does, spelled out by hand on small inputs, so that the behaviour is pinned
 * even without the HF reference (HuggingFaceParityTest checks the same against HF at scale).
 */
class BertTokenizerTest {
    static final BertTokenizer TOKENIZER = BertTokenizer.bertBaseUncased();

    private static int id(String token) {
        return TOKENIZER.vocab().id(token);
    }

    @Test
    void lowerCasesStripsAccentsAndSplitsPunctuation() {
        assertEquals(List.of("hello", ",", "cafe", "!", "$", "5", "+", "x"), TOKENIZER.tokens("Hello, CAFÉ! $5+x"));
    }

    @Test
    void wordPieceUsesContinuationPieces() {
        assertEquals(List.of("token", "##izer", "##s"), TOKENIZER.tokens("tokenizers"));
    }

    @Test
    void offsetsPointIntoTheOriginalTextInCodePoints() {
        // the emoji is two UTF-16 units but one code point; the decomposed é is two code points, and
        // the dropped accent is not part of the token's span (as in HF)
        Window w = TOKENIZER.encode("😀 Cafe\u0301 ok");
        assertArrayEquals(new int[] {id("[CLS]"), id("[UNK]"), id("cafe"), id("ok"), id("[SEP]")}, w.inputIds());
        assertArrayEquals(new int[] {-1, 0, 2, 8, -1}, w.offsetStarts());
        assertArrayEquals(new int[] {-1, 1, 6, 10, -1}, w.offsetEnds());
    }

    @Test
    void invisibleCharactersVanishWithoutSplittingTheWord() {
        Window w = TOKENIZER.encode("fo\u200Bod");
        assertArrayEquals(new int[] {id("[CLS]"), id("food"), id("[SEP]")}, w.inputIds());
        assertEquals(0, w.offsetStarts()[1]);
        assertEquals(5, w.offsetEnds()[1]);
    }

    @Test
    void cjkIdeographsAreWordsOfTheirOwn() {
        assertEquals(List.of("中", "文", "ok"), TOKENIZER.tokens("中文ok"));
    }

    @Test
    void longWordsAndUnknownPiecesBecomeOneUnknownToken() {
        assertEquals(List.of("[UNK]"), TOKENIZER.tokens("a".repeat(BertTokenizer.MAX_WORD_CHARS + 1)));
        assertEquals(List.of("a", "[UNK]", "b"), TOKENIZER.tokens("a " + "\uD83E\uDD70\u2603" + " b"));
        assertTrue(TOKENIZER.tokens("a".repeat(BertTokenizer.MAX_WORD_CHARS)).size() > 1);
    }

    @Test
    void specialTokensWrittenInTheTextAreKept() {
        Window w = TOKENIZER.encode("a[SEP]b");
        assertArrayEquals(new int[] {id("[CLS]"), id("a"), id("[SEP]"), id("b"), id("[SEP]")}, w.inputIds());
        assertEquals(1, w.offsetStarts()[2]);
        assertEquals(6, w.offsetEnds()[2]);
    }

    @Test
    void loneSurrogatesAreDroppedAndCountAsOneCodePoint() {
        Window w = TOKENIZER.encode("\uD800 lone \uDC00x");
        assertArrayEquals(new int[] {id("[CLS]"), id("lone"), id("x"), id("[SEP]")}, w.inputIds());
        assertArrayEquals(new int[] {-1, 2, 8, -1}, w.offsetStarts());
    }

    @Test
    void emptyTextIsJustTheSpecialTokens() {
        assertArrayEquals(new int[] {id("[CLS]"), id("[SEP]")}, TOKENIZER.encode("").inputIds());
        assertArrayEquals(new int[] {id("[CLS]"), id("[SEP]"), id("[SEP]")}, TOKENIZER.encodePair("", "").inputIds());
    }

    @Test
    void pairsHaveTypeIdsAndOffsetsIntoEachSegment() {
        Window w = TOKENIZER.encodePair("Who?", "Ann did.");
        assertArrayEquals(new int[] {id("[CLS]"), id("who"), id("?"), id("[SEP]"), id("ann"), id("did"), id("."), id("[SEP]")}, w.inputIds());
        assertArrayEquals(new int[] {0, 0, 0, 0, 1, 1, 1, 1}, w.tokenTypeIds());
        assertArrayEquals(new int[] {-1, 0, 3, -1, 0, 4, 7, -1}, w.offsetStarts());
        assertEquals(4, w.contextStart());
        assertEquals(7, w.contextEnd());
    }

    @Test
    void slidingWindowsShareStrideContextTokens() {
        // question "q" (1 token) + 3 specials leave 4 context tokens per window of 8
        String context = "a b c d e f g h i j";
        List<Window> windows = TOKENIZER.encodePair("q", context, new Truncation(8, 2));
        int[][] expected = {{0, 1, 2, 3}, {2, 3, 4, 5}, {4, 5, 6, 7}, {6, 7, 8, 9}};
        assertEquals(expected.length, windows.size());
        for (int w = 0; w < expected.length; w++) {
            Window window = windows.get(w);
            assertEquals(8, window.length());
            assertEquals(expected[w][0], window.contextTokenOffset());
            for (int k = 0; k < 4; k++) {
                int position = window.contextStart() + k;
                assertEquals(2 * expected[w][k], window.offsetStarts()[position], "window " + w + " token " + k);
                assertTrue(window.isContext(position));
            }
            assertEquals(id("q"), window.inputIds()[1]);
        }
    }

    @Test
    void lastWindowIsTheFirstThatReachesTheEnd() {
        // 5 context tokens, room for 4, stride 1: windows [0,4) and [3,5)
        List<Window> windows = TOKENIZER.encodePair("q", "a b c d e", new Truncation(8, 1));
        assertEquals(2, windows.size());
        assertEquals(3, windows.get(1).contextTokenOffset());
        assertEquals(2, windows.get(1).contextEnd() - windows.get(1).contextStart());
    }

    @Test
    void windowsOfManyPairsKnowTheirExample() {
        List<Window> windows = TOKENIZER.encodePairs(List.of("q", "r"), List.of("a b c d e", "a"), new Truncation(8, 1));
        assertEquals(List.of(0, 0, 1), windows.stream().map(Window::example).toList());
    }

    @Test
    void aSequenceThatFitsIsNotCut() {
        assertEquals(1, TOKENIZER.encodePair("q", "a b", new Truncation(8, 1)).size());
        assertEquals(1, TOKENIZER.encode("a b c d e f", new Truncation(8, 7)).size());
    }

    @Test
    void aQuestionThatLeavesNoRoomIsAClearError() {
        var e = assertThrows(TokenizerException.class, () -> TOKENIZER.encodePair("a b c d e", "x y z", new Truncation(8, 1)));
        assertTrue(e.getMessage().contains("question is 5 tokens"), e.getMessage());
        var stride = assertThrows(TokenizerException.class, () -> TOKENIZER.encodePair("a b", "v w x y z", new Truncation(8, 3)));
        assertTrue(stride.getMessage().contains("stride 3"), stride.getMessage());
    }

    @Test
    void truncationRejectsImpossibleSettings() {
        assertThrows(TokenizerException.class, () -> new Truncation(0, 0));
        assertThrows(TokenizerException.class, () -> new Truncation(8, 8));
        assertThrows(TokenizerException.class, () -> new Truncation(8, -1));
    }

    @Test
    void codePointsCountLikePython() {
        assertArrayEquals(new int[] {'a', 0x1F600, 0xD800, 'b'}, CodePoints.of("a\uD83D\uDE00\uD800b"));
        assertEquals("\uD83D\uDE00b", CodePoints.substring("a\uD83D\uDE00b", 1, 3));
    }
}
