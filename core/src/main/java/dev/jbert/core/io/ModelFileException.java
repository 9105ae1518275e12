package dev.jbert.core.io;

/**
 * A model file that cannot be used: malformed, truncated, absurd, or not what the config says.
 * The message names the file and the field or tensor; the command-line tool prints it as one line.
 */
public final class ModelFileException extends RuntimeException {
    public ModelFileException(String message) {
        super(message);
    }

    public ModelFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
