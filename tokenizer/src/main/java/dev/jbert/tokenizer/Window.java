package dev.jbert.tokenizer;

/**
 * One model input: {@code [CLS] question [SEP] context [SEP]} for a pair, {@code [CLS] text [SEP]}
 * for a single sequence. When the context is longer than the window allows, it is cut into
 * overlapping windows (Hugging Face's overflowing tokens), and each window says which example it
 * came from and which part of the context it holds.
 *
 * @param example            index of the example (pair or text) this window belongs to, in input order
 * @param inputIds           token ids, length L
 * @param tokenTypeIds       0 for [CLS], the question and the first [SEP]; 1 for the context and the last [SEP]
 * @param offsetStarts       per token, its first code point in the question or the context (for a single
 *                           sequence: the text); -1 for special tokens
 * @param offsetEnds         per token, one past its last code point; -1 for special tokens
 * @param contextStart       position in this window of the first context token
 * @param contextEnd         position in this window one past the last context token
 * @param contextTokenOffset index of the window's first context token among all tokens of the context
 */
public record Window(int example, int[] inputIds, int[] tokenTypeIds, int[] offsetStarts, int[] offsetEnds,
                     int contextStart, int contextEnd, int contextTokenOffset) {

    public int length() {
        return inputIds.length;
    }

    /** Whether the token at {@code position} is one the tokenizer added ([CLS], [SEP]) rather than text. */
    public boolean isSpecial(int position) {
        return offsetStarts[position] < 0;
    }

    /** Whether the token at {@code position} is part of the (possibly truncated) context. */
    public boolean isContext(int position) {
        return position >= contextStart && position < contextEnd;
    }
}
