package dev.jbert.core.squad;

/**
 * A SQuAD file that cannot be used: missing, not JSON, not shaped like SQuAD, or with nothing
 * usable left after answer alignment. The message is one line naming the file and the place, e.g.
 * {@code dev.json: data[3] ("Normans") paragraphs[2] qas[5] (id 56dd...): "answers" is not an array}.
 */
public final class SquadFormatException extends RuntimeException {
    public SquadFormatException(String message) {
        super(message);
    }

    public SquadFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
