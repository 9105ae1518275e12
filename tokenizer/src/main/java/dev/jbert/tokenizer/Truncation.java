package dev.jbert.tokenizer;

/**
 * How to cut a long sequence into windows, with Hugging Face's semantics (run_qa's
 * {@code max_seq_length 384, doc_stride 128}): every window is at most {@code maxLength} tokens
 * including the special tokens, only the context (or the single text) is cut, and consecutive
 * windows share {@code stride} context tokens. Google's run_squad means something else by stride
 * (the step between window starts); we follow HF.
 */
public record Truncation(int maxLength, int stride) {
    public Truncation {
        if (maxLength < 1) throw new TokenizerException("max length must be positive, got " + maxLength);
        if (stride < 0) throw new TokenizerException("stride must not be negative, got " + stride);
        if (stride >= maxLength) {
            throw new TokenizerException("stride " + stride + " must be smaller than max length " + maxLength);
        }
    }
}
