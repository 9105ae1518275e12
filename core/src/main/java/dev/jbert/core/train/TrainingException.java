package dev.jbert.core.train;

/**
 * Training cannot go on, for a reason the user must hear in one line: a NaN or infinite loss, or a
 * checkpoint that does not belong to this run. The CLI prints the message and exits with code 2.
 */
public final class TrainingException extends RuntimeException {
    public TrainingException(String message) {
        super(message);
    }
}
