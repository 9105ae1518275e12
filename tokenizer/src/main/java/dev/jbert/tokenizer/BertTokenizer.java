package dev.jbert.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * BERT's uncased WordPiece tokenizer, token for token what Hugging Face's {@code BertTokenizerFast}
 * produces, offsets included. Immutable and thread-safe.
 *
 * <p>The pipeline, for one sequence (a text, a question or a context):
 * <ol>
 *   <li>special tokens written literally in the text ({@code [SEP]}, ...) are split out first, as
 *       HF's added-token matching does;</li>
 *   <li>normalize each character ({@link UnicodeRules}): drop controls, map whitespace to a space,
 *       isolate CJK ideographs, NFD, strip accents, lower-case;</li>
 *   <li>pre-tokenize: split on whitespace, and make every punctuation mark a word of its own;</li>
 *   <li>WordPiece each word: greedy longest match, {@code ##} for continuations, {@code [UNK]} for a
 *       word of more than 100 characters or one with an unknown piece.</li>
 * </ol>
 * Steps 2 to 4 run in one pass over the code points. Every normalized character remembers the
 * original code point it came from, so a token's offsets are simply
 * {@code [origin(first char), origin(last char) + 1)}, whatever normalization did in between.
 */
public final class BertTokenizer {
    /** HF's max_input_chars_per_word: a longer word becomes [UNK]. */
    public static final int MAX_WORD_CHARS = 100;

    private final Vocab vocab;
    private final int[][] literalSpecials;   // code points of the special tokens matched in raw text
    private final int[] literalSpecialIds;

    public BertTokenizer(Vocab vocab) {
        this.vocab = vocab;
        literalSpecials = new int[Vocab.REQUIRED.size()][];
        literalSpecialIds = new int[Vocab.REQUIRED.size()];
        for (int i = 0; i < literalSpecials.length; i++) {
            literalSpecials[i] = CodePoints.of(Vocab.REQUIRED.get(i));
            literalSpecialIds[i] = vocab.id(Vocab.REQUIRED.get(i));
        }
    }

    /** The tokenizer of bert-base-uncased, with the vocab bundled in jbert. */
    public static BertTokenizer bertBaseUncased() {
        return new BertTokenizer(Vocab.bertBaseUncased());
    }

    public Vocab vocab() {
        return vocab;
    }

    // ---- public encodings ------------------------------------------------------------------

    /** {@code [CLS] text [SEP]}, never truncated. */
    public Window encode(String text) {
        return windows(0, null, tokenize(text), null).getFirst();
    }

    /** {@code [CLS] text [SEP]}, cut into overlapping windows when longer than {@code truncation} allows. */
    public List<Window> encode(String text, Truncation truncation) {
        return windows(0, null, tokenize(text), truncation);
    }

    /** {@code [CLS] question [SEP] context [SEP]}, never truncated. */
    public Window encodePair(String question, String context) {
        return windows(0, tokenize(question), tokenize(context), null).getFirst();
    }

    /** {@code [CLS] question [SEP] context [SEP]} windows; only the context is cut. */
    public List<Window> encodePair(String question, String context, Truncation truncation) {
        return windows(0, tokenize(question), tokenize(context), truncation);
    }

    /**
     * Windows of many pairs at once, in order; each window's {@link Window#example()} is the index
     * of its pair (HF's {@code overflow_to_sample_mapping}).
     */
    public List<Window> encodePairs(List<String> questions, List<String> contexts, Truncation truncation) {
        if (questions.size() != contexts.size()) {
            throw new IllegalArgumentException(questions.size() + " questions but " + contexts.size() + " contexts");
        }
        List<Window> out = new ArrayList<>();
        for (int i = 0; i < questions.size(); i++) {
            out.addAll(windows(i, tokenize(questions.get(i)), tokenize(contexts.get(i)), truncation));
        }
        return out;
    }

    /** The WordPiece tokens of {@code text} as strings, without special tokens (for reading and debugging). */
    public List<String> tokens(String text) {
        TokenList tokens = tokenize(text);
        List<String> out = new ArrayList<>(tokens.size);
        for (int i = 0; i < tokens.size; i++) out.add(vocab.token(tokens.ids[i]));
        return out;
    }

    // ---- one sequence -> tokens --------------------------------------------------------------

    TokenList tokenize(String text) {
        int[] original = CodePoints.of(text);
        TokenList out = new TokenList();
        Word word = new Word();
        int segmentStart = 0;
        for (int i = 0; i < original.length; i++) {
            if (original[i] != '[') continue;
            int special = literalSpecialAt(original, i);
            if (special < 0) continue;
            tokenizeSegment(original, segmentStart, i, word, out);
            int length = literalSpecials[special].length;
            out.add(literalSpecialIds[special], i, i + length);
            segmentStart = i + length;
            i = segmentStart - 1;
        }
        tokenizeSegment(original, segmentStart, original.length, word, out);
        return out;
    }

    /** Which special token is written at {@code original[at]}, or -1. */
    private int literalSpecialAt(int[] original, int at) {
        for (int s = 0; s < literalSpecials.length; s++) {
            int[] special = literalSpecials[s];
            if (at + special.length <= original.length
                    && Arrays.equals(original, at, at + special.length, special, 0, special.length)) {
                return s;
            }
        }
        return -1;
    }

    /** Normalize, pre-tokenize and WordPiece {@code original[from, to)} in one pass. */
    private void tokenizeSegment(int[] original, int from, int to, Word word, TokenList out) {
        int[] folded = null;
        for (int i = from; i < to; i++) {
            int cp = original[i];
            switch (UnicodeRules.kind(cp)) {
                case UnicodeRules.DROP -> { }
                case UnicodeRules.SPACE -> flush(word, out);
                case UnicodeRules.LETTER -> word.append(UnicodeRules.folded(cp), i);
                case UnicodeRules.PUNCT, UnicodeRules.CJK -> {
                    flush(word, out);
                    word.append(UnicodeRules.folded(cp), i);
                    flush(word, out);
                }
                default -> {
                    if (folded == null) folded = new int[8];
                    foldRare(cp, i, folded, word, out);
                }
            }
        }
        flush(word, out);
    }

    /** The general rule for code points the BMP cache does not cover: beyond the BMP, or several folded chars. */
    private void foldRare(int cp, int origin, int[] folded, Word word, TokenList out) {
        if (UnicodeRules.isDropped(cp)) return;
        if (UnicodeRules.isWhitespace(cp)) {
            flush(word, out);
            return;
        }
        boolean isolated = UnicodeRules.isChineseChar(cp);
        if (isolated) flush(word, out);
        int n = UnicodeRules.fold(cp, folded);
        for (int k = 0; k < n; k++) {
            int c = folded[k];
            if (UnicodeRules.isWhitespace(c)) {
                flush(word, out);
            } else if (UnicodeRules.isPunctuation(c)) {
                flush(word, out);
                word.append(c, origin);
                flush(word, out);
            } else {
                word.append(c, origin);
            }
        }
        if (isolated) flush(word, out);
    }

    private void flush(Word word, TokenList out) {
        if (word.length > 0) wordPiece(word, out);
        word.length = 0;
    }

    /**
     * Greedy longest-match-first WordPiece of one normalized word. Pieces after the first are looked
     * up as continuations ({@code ##piece}). If any position has no piece, the whole word is [UNK].
     */
    private void wordPiece(Word word, TokenList out) {
        int length = word.length;
        int wordStart = word.origin[0], wordEnd = word.origin[length - 1] + 1;
        if (length > MAX_WORD_CHARS) {
            out.add(vocab.unkId(), wordStart, wordEnd);
            return;
        }
        int mark = out.size;
        int longest = vocab.maxPieceLength();
        for (int start = 0; start < length; ) {
            int end = Math.min(length, start + longest);
            int id = -1;
            for (; end > start; end--) {
                id = vocab.lookup(word.chars, start, end, start > 0);
                if (id >= 0) break;
            }
            if (id < 0) {
                out.truncate(mark);
                out.add(vocab.unkId(), wordStart, wordEnd);
                return;
            }
            out.add(id, word.origin[start], word.origin[end - 1] + 1);
            start = end;
        }
    }

    /** The word being built: normalized code points, and for each the original code point index. */
    private static final class Word {
        int[] chars;   // normalized code points
        int[] origin;  // per char: index of the original code point it came from
        int length;

        Word() {
            chars = new int[64];
            origin = new int[64];
        }

        void append(int c, int originIndex) {
            if (length == chars.length) {
                chars = Arrays.copyOf(chars, length * 2);
                origin = Arrays.copyOf(origin, length * 2);
            }
            chars[length] = c;
            origin[length++] = originIndex;
        }
    }

    // ---- tokens -> windows --------------------------------------------------------------------

    /**
     * Lays out {@code [CLS] first [SEP] second [SEP]} (or {@code [CLS] second [SEP]} without a first
     * sequence), cutting {@code second} into windows as HF's truncation with overflow does: each
     * window holds {@code room} tokens of it, consecutive windows start {@code room - stride} apart,
     * and the last window is the first one that reaches the end.
     */
    private List<Window> windows(int example, TokenList first, TokenList second, Truncation truncation) {
        int firstLength = first == null ? 0 : first.size;
        int specials = first == null ? 2 : 3;
        int total = firstLength + second.size + specials;
        if (truncation == null || total <= truncation.maxLength()) {
            return List.of(window(example, first, second, 0, second.size));
        }
        int room = truncation.maxLength() - specials - firstLength;
        if (room <= 0) {
            throw new TokenizerException("the question is " + firstLength + " tokens, which leaves no room for the context in "
                    + truncation.maxLength() + " tokens");
        }
        if (truncation.stride() >= room) {
            throw new TokenizerException("stride " + truncation.stride() + " must be smaller than the " + room
                    + " context tokens a window has room for (max length " + truncation.maxLength() + " minus "
                    + firstLength + " question tokens and " + specials + " special tokens)");
        }
        List<Window> out = new ArrayList<>();
        int step = room - truncation.stride();
        for (int start = 0; ; start += step) {
            int end = Math.min(start + room, second.size);
            out.add(window(example, first, second, start, end));
            if (end == second.size) return out;
        }
    }

    private Window window(int example, TokenList first, TokenList second, int from, int to) {
        int firstLength = first == null ? 0 : first.size;
        int length = (first == null ? 2 : 3) + firstLength + (to - from);
        int[] ids = new int[length], types = new int[length], starts = new int[length], ends = new int[length];
        int at = 0;
        at = putSpecial(vocab.clsId(), 0, at, ids, types, starts, ends);
        if (first != null) {
            at = putTokens(first, 0, firstLength, 0, at, ids, types, starts, ends);
            at = putSpecial(vocab.sepId(), 0, at, ids, types, starts, ends);
        }
        int secondType = first == null ? 0 : 1;
        int contextStart = at;
        at = putTokens(second, from, to, secondType, at, ids, types, starts, ends);
        int contextEnd = at;
        putSpecial(vocab.sepId(), secondType, at, ids, types, starts, ends);
        return new Window(example, ids, types, starts, ends, contextStart, contextEnd, from);
    }

    private static int putSpecial(int id, int type, int at, int[] ids, int[] types, int[] starts, int[] ends) {
        ids[at] = id;
        types[at] = type;
        starts[at] = -1;
        ends[at] = -1;
        return at + 1;
    }

    private static int putTokens(TokenList tokens, int from, int to, int type, int at,
                                 int[] ids, int[] types, int[] starts, int[] ends) {
        int n = to - from;
        System.arraycopy(tokens.ids, from, ids, at, n);
        System.arraycopy(tokens.starts, from, starts, at, n);
        System.arraycopy(tokens.ends, from, ends, at, n);
        Arrays.fill(types, at, at + n, type);
        return at + n;
    }
}
