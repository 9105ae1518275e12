package dev.jbert.core.squad;

/**
 * One gold answer: its text and where it starts in the context, in code points (SQuAD's
 * {@code answer_start} counts Python characters, which are code points).
 */
public record SquadAnswer(String text, int start) {

    /** One past the answer's last code point in the context. */
    public int end() {
        return start + text.codePointCount(0, text.length());
    }
}
