package dev.jbert.tokenizer;

import java.util.Arrays;

/**
 * The tokens of one sequence (a text, a question or a context) before special tokens and windows:
 * ids, and for each its span {@code [start, end)} in code points of that sequence.
 * A growable set of parallel int arrays, so tokenizing allocates almost nothing per token.
 */
final class TokenList {
    int[] ids = new int[64];
    int[] starts = new int[64];
    int[] ends = new int[64];
    int size;

    void add(int id, int start, int end) {
        if (size == ids.length) {
            int capacity = size * 2;
            ids = Arrays.copyOf(ids, capacity);
            starts = Arrays.copyOf(starts, capacity);
            ends = Arrays.copyOf(ends, capacity);
        }
        ids[size] = id;
        starts[size] = start;
        ends[size] = end;
        size++;
    }

    /** Drops the tokens from {@code newSize} on (WordPiece undoing a word that turned out [UNK]). */
    void truncate(int newSize) {
        size = newSize;
    }
}
