package dev.jbert.tokenizer;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Hugging Face's tokenizer ({@link HuggingFaceBert}) as the tests use it: the windows it makes for
 * an input, in jbert's terms, so they can be compared with jbert's token for token.
 */
final class HuggingFaceReference implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;

    private HuggingFaceReference(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Without truncation: one encoding per input, however long. */
    static HuggingFaceReference untruncated(Vocab vocab) {
        return build(vocab, null, false);
    }

    /** Truncating only the second sequence of a pair (run_qa's "only_second"), with overflowing windows. */
    static HuggingFaceReference windowedPairs(Vocab vocab, Truncation truncation) {
        return build(vocab, truncation, true);
    }

    /** Truncating a single text, with overflowing windows. */
    static HuggingFaceReference windowedTexts(Vocab vocab, Truncation truncation) {
        return build(vocab, truncation, false);
    }

    private static HuggingFaceReference build(Vocab vocab, Truncation truncation, boolean secondOnly) {
        return new HuggingFaceReference(HuggingFaceBert.tokenizer(vocab, truncation, secondOnly));
    }

    List<Expected> encode(String text) {
        return windows(tokenizer.encode(text));
    }

    List<Expected> encodePair(String question, String context) {
        return windows(tokenizer.encode(question, context));
    }

    /** Many pairs at once: HF encodes a batch on all cores. */
    List<List<Expected>> encodePairs(List<String> questions, List<String> contexts) {
        var pairs = new ai.djl.util.PairList<String, String>(questions, contexts);
        List<List<Expected>> out = new ArrayList<>();
        for (Encoding e : tokenizer.batchEncode(pairs)) out.add(windows(e));
        return out;
    }

    /** The main encoding followed by its overflowing windows, as HF's Python API returns them. */
    private static List<Expected> windows(Encoding main) {
        List<Expected> out = new ArrayList<>();
        out.add(Expected.of(main));
        Encoding[] overflowing = main.getOverflowing();
        if (overflowing != null) for (Encoding e : overflowing) out.add(Expected.of(e));
        return out;
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    /** One HF window in jbert's terms: offsets of special tokens are -1. */
    record Expected(int[] ids, int[] typeIds, int[] starts, int[] ends) {
        static Expected of(Encoding e) {
            int n = e.getIds().length;
            int[] ids = new int[n], types = new int[n], starts = new int[n], ends = new int[n];
            CharSpan[] spans = e.getCharTokenSpans();
            long[] specialMask = e.getSpecialTokenMask();
            for (int i = 0; i < n; i++) {
                ids[i] = (int) e.getIds()[i];
                types[i] = (int) e.getTypeIds()[i];
                // template specials have no span; a special token written in the text has a real one
                boolean templateSpecial = spans[i] == null || (specialMask[i] == 1 && spans[i].getStart() == spans[i].getEnd());
                starts[i] = templateSpecial ? -1 : spans[i].getStart();
                ends[i] = templateSpecial ? -1 : spans[i].getEnd();
            }
            return new Expected(ids, types, starts, ends);
        }

        /** Whether jbert's window is the same: ids, type ids and offsets. */
        boolean matches(Window w) {
            return Arrays.equals(ids, w.inputIds()) && Arrays.equals(typeIds, w.tokenTypeIds())
                    && Arrays.equals(starts, w.offsetStarts()) && Arrays.equals(ends, w.offsetEnds());
        }
    }
}
