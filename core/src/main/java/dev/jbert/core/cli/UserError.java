package dev.jbert.core.cli;

/**
 * A mistake in what the user gave us (a file, a flag, an input line). The command-line tool prints
 * its message as one line, without a stack trace, and exits with {@link Main#EXIT_USER_ERROR}.
 */
public final class UserError extends RuntimeException {
    public UserError(String message) {
        super(message);
    }
}
