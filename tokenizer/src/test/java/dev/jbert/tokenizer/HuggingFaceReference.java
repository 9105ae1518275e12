package dev.jbert.tokenizer;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Hugging Face's own Rust tokenizer (through DJL), configured exactly as bert-base-uncased's
 * {@code tokenizer.json}: the reference that jbert's tokenizer is compared with, token for token.
 *
 * <p>The tokenizer.json is generated here from our vocab with BERT's settings (BertNormalizer with
 * lower-casing and accent stripping, BertPreTokenizer, WordPiece with {@code ##} and 100 characters
 * per word, the {@code [CLS] A [SEP] B [SEP]} template, and the five special tokens as added tokens),
 * so the test needs no network. DJL loads the native library bundled in its jar (RUST_FLAVOR=cpu,
 * cache under target/, set by surefire).
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
        try {
            Path json = Files.createDirectories(Path.of("target", "hf-reference")).resolve("tokenizer.json");
            Files.writeString(json, tokenizerJson(vocab));
            var builder = HuggingFaceTokenizer.builder()
                    .optTokenizerPath(json)
                    .optAddSpecialTokens(true)
                    .optPadding(false);
            if (truncation == null) {
                builder.optTruncation(false);
            } else {
                if (secondOnly) builder.optTruncateSecondOnly();
                else builder.optTruncation(true);
                builder.optMaxLength(truncation.maxLength())
                        .optStride(truncation.stride())
                        .optWithOverflowingTokens(true);
            }
            return new HuggingFaceReference(builder.build());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** bert-base-uncased's tokenizer.json, with our vocab. */
    static String tokenizerJson(Vocab vocab) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode root = f.objectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String special : Vocab.REQUIRED) {
            added.addObject().put("id", vocab.id(special)).put("content", special).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        }
        root.putObject("normalizer").put("type", "BertNormalizer").put("clean_text", true)
                .put("handle_chinese_chars", true).putNull("strip_accents").put("lowercase", true);
        root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");
        ObjectNode post = root.putObject("post_processor").put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        special(single, "[CLS]", 0);
        sequence(single, "A", 0);
        special(single, "[SEP]", 0);
        ArrayNode pair = post.putArray("pair");
        special(pair, "[CLS]", 0);
        sequence(pair, "A", 0);
        special(pair, "[SEP]", 0);
        sequence(pair, "B", 1);
        special(pair, "[SEP]", 1);
        ObjectNode specials = post.putObject("special_tokens");
        for (String name : List.of(Vocab.CLS, Vocab.SEP)) {
            ObjectNode s = specials.putObject(name).put("id", name);
            s.putArray("ids").add(vocab.id(name));
            s.putArray("tokens").add(name);
        }
        root.putObject("decoder").put("type", "WordPiece").put("prefix", "##").put("cleanup", true);
        ObjectNode model = root.putObject("model").put("type", "WordPiece").put("unk_token", Vocab.UNK)
                .put("continuing_subword_prefix", "##").put("max_input_chars_per_word", BertTokenizer.MAX_WORD_CHARS);
        ObjectNode entries = model.putObject("vocab");
        for (int id = 0; id < vocab.size(); id++) entries.put(vocab.token(id), id);
        try {
            return new ObjectMapper().writeValueAsString(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void special(ArrayNode template, String id, int typeId) {
        template.addObject().putObject("SpecialToken").put("id", id).put("type_id", typeId);
    }

    private static void sequence(ArrayNode template, String id, int typeId) {
        template.addObject().putObject("Sequence").put("id", id).put("type_id", typeId);
    }

    List<Expected> encode(String text) {
        return windows(tokenizer.encode(text));
    }

    List<Expected> encodePair(String question, String context) {
        return windows(tokenizer.encode(question, context));
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
    record Expected(int[] ids, int[] typeIds, int[] starts, int[] ends, String[] tokens) {
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
            return new Expected(ids, types, starts, ends, e.getTokens());
        }

        /** Whether jbert's window is the same: ids, type ids and offsets. */
        boolean matches(Window w) {
            return Arrays.equals(ids, w.inputIds()) && Arrays.equals(typeIds, w.tokenTypeIds())
                    && Arrays.equals(starts, w.offsetStarts()) && Arrays.equals(ends, w.offsetEnds());
        }
    }
}
