package dev.jbert.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Hugging Face's own Rust tokenizer (through DJL) set up as bert-base-uncased's: the reference in
 * parity tests and the peer in benchmarks. Its {@code tokenizer.json} is written here from a vocab:
 * BertNormalizer (clean text, CJK spacing, lower-casing, accent stripping), BertPreTokenizer,
 * WordPiece with {@code ##} and 100 characters per word, the {@code [CLS] A [SEP] B [SEP]} template,
 * and the five special tokens as added tokens. Nothing is downloaded: DJL loads the native library
 * bundled in its jar when RUST_FLAVOR=cpu (surefire and scripts/bench set it).
 */
public final class HuggingFaceBert {
    private HuggingFaceBert() {}

    /**
     * HF's tokenizer with {@code vocab}. Without {@code truncation} it never cuts; with it, it makes
     * overflowing windows, cutting only the second sequence of a pair when {@code secondOnly}
     * (run_qa's "only_second") and the one sequence otherwise.
     */
    public static HuggingFaceTokenizer tokenizer(Vocab vocab, Truncation truncation, boolean secondOnly) {
        try {
            Path json = Files.createTempFile("jbert-hf-", "-tokenizer.json");
            json.toFile().deleteOnExit();
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
            return builder.build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** bert-base-uncased's tokenizer.json, with the words of {@code vocab}. */
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
}
