package dev.jbert.core.study;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import dev.jbert.core.io.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Attention as one self-contained HTML page, in the spirit of bertviz's head view: pick a layer
 * and heads, hover a token, and lines whose opacity is the weight show where it attends (or what
 * attends to it); a side panel lists the top weights and draws the matrix. Everything is inline
 * (the page template {@code attention-page.html} holds the CSS and JS), so the file opens offline.
 *
 * <p>The numbers of every layer and head travel as JSON in a {@code <script type="application/json">}:
 * {@code attention[layer][head][query][key]} is the probability times {@link #SCALE}, rounded to an
 * integer (4 decimals, about half the bytes of writing them as decimals). The page honours a URL hash
 * such as {@code #layer=3&head=2&token=5} ({@code head=all}, {@code head=1,4}, {@code token=none}).
 */
public final class AttentionPage {
    /** The probabilities are stored as integers in units of 1 / SCALE. */
    public static final int SCALE = 10_000;
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{(TITLE|DATA)}}");

    private AttentionPage() {}

    /**
     * Writes the page atomically. It opens on {@code layer}, on {@code head} (null: all heads), with
     * {@code token}'s attention pinned (null: every line).
     */
    public static void write(AttentionMaps maps, int layer, Integer head, Integer token, Path html) {
        AtomicFiles.writeString(html, render(maps, layer, head, token));
    }

    static String render(AttentionMaps maps, int layer, Integer head, Integer token) {
        String json = json(maps, layer, head, token);
        Matcher placeholders = PLACEHOLDER.matcher(template());
        // one pass, so that nothing the title or the data contains is taken for a placeholder
        return placeholders.replaceAll(match -> Matcher.quoteReplacement(
                match.group(1).equals("TITLE") ? escapeHtml(maps.source()) : json));
    }

    private static String json(AttentionMaps maps, int layer, Integer head, Integer token) {
        StringWriter text = new StringWriter();
        try (JsonGenerator json = new JsonFactory().createGenerator(text)) {
            json.setCharacterEscapes(new ScriptSafeEscapes());
            json.writeStartObject();
            json.writeStringField("source", maps.source());
            json.writeArrayFieldStart("tokens");
            for (String piece : maps.tokens()) {
                json.writeString(piece);
            }
            json.writeEndArray();
            json.writeFieldName("tokenTypeIds");
            json.writeArray(maps.tokenTypeIds(), 0, maps.length());
            json.writeArrayFieldStart("special");
            for (boolean special : maps.special()) {
                json.writeBoolean(special);
            }
            json.writeEndArray();
            json.writeNumberField("layers", maps.layers());
            json.writeNumberField("heads", maps.heads());
            json.writeNumberField("scale", SCALE);
            json.writeObjectFieldStart("initial");
            json.writeNumberField("layer", layer);
            writeNullable(json, "head", head);
            writeNullable(json, "token", token);
            json.writeEndObject();
            json.writeArrayFieldStart("attention"); // [layer][head][query][key]
            int length = maps.length();
            int[] row = new int[length];
            for (int l = 0; l < maps.layers(); l++) {
                json.writeStartArray();
                for (int h = 0; h < maps.heads(); h++) {
                    json.writeStartArray();
                    for (int query = 0; query < length; query++) {
                        for (int key = 0; key < length; key++) {
                            row[key] = Math.round(maps.weight(l, h, query, key) * SCALE);
                        }
                        json.writeArray(row, 0, length);
                    }
                    json.writeEndArray();
                }
                json.writeEndArray();
            }
            json.writeEndArray();
            json.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringWriter does not fail
        }
        return text.toString();
    }

    private static void writeNullable(JsonGenerator json, String name, Integer value) throws IOException {
        if (value == null) {
            json.writeNullField(name);
        } else {
            json.writeNumberField(name, value);
        }
    }

    /** Text for an HTML element or attribute. */
    static String escapeHtml(String text) {
        StringBuilder out = new StringBuilder(text.length());
        text.codePoints().forEach(c -> out.append(switch (c) {
            case '&' -> "&amp;";
            case '<' -> "&lt;";
            case '>' -> "&gt;";
            case '"' -> "&quot;";
            case '\'' -> "&#39;";
            default -> Character.toString(c);
        }));
        return out.toString();
    }

    private static String template() {
        try (InputStream in = AttentionPage.class.getResourceAsStream("attention-page.html")) {
            if (in == null) {
                throw new IllegalStateException("attention-page.html is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * JSON that cannot end the {@code <script>} it sits in: {@code <}, {@code >} and {@code &} are
     * written as {@code \u003c}-style escapes, so no token can spell {@code </script>} or {@code <!--}.
     */
    private static final class ScriptSafeEscapes extends CharacterEscapes {
        private final int[] escapes = standardAsciiEscapesForJSON();

        ScriptSafeEscapes() {
            escapes['<'] = ESCAPE_STANDARD;
            escapes['>'] = ESCAPE_STANDARD;
            escapes['&'] = ESCAPE_STANDARD;
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return escapes;
        }

        @Override
        public SerializedString getEscapeSequence(int ch) {
            return null; // only the standard escapes above
        }
    }
}
