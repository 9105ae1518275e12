package dev.jbert.tokenizer;

/**
 * A problem with the tokenizer's input that the user can fix: a bad vocab file, a question too long
 * for the window. The message is one line that names the file or field.
 */
public final class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(message);
    }
}
