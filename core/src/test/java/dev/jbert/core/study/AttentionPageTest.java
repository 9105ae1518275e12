package dev.jbert.core.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The HTML page: self-contained, well nested, and carrying every layer's and head's numbers. */
class AttentionPageTest {
    private static final Pattern DATA = Pattern.compile(
            "<script type=\"application/json\" id=\"attention-data\">(.*?)</script>", Pattern.DOTALL);
    private static final Set<String> VOID = Set.of("meta", "br", "input", "img", "hr", "link");

    static JsonNode data(String html) throws Exception {
        Matcher matcher = DATA.matcher(html);
        assertTrue(matcher.find(), "the page embeds its data");
        return new ObjectMapper().readTree(matcher.group(1));
    }

    @Test
    void carriesTheProbabilitiesOfEveryLayerAndHead() throws Exception {
        AttentionMaps maps = AttentionMapsTest.tinyMaps();
        String html = AttentionPage.render(maps, 1, 2, 3);
        JsonNode data = data(html);
        assertEquals(maps.tokens(), List.of(new ObjectMapper().treeToValue(data.get("tokens"), String[].class)));
        assertEquals(1, data.at("/initial/layer").asInt());
        assertEquals(2, data.at("/initial/head").asInt());
        assertEquals(3, data.at("/initial/token").asInt());
        double scale = data.get("scale").asDouble();
        JsonNode attention = data.get("attention");
        assertEquals(2, attention.size(), "the tiny model's layers");
        int length = maps.length();
        for (int layer = 0; layer < 2; layer++) {
            assertEquals(4, attention.get(layer).size(), "the tiny model's heads");
            for (int head = 0; head < 4; head++) {
                JsonNode rows = attention.get(layer).get(head);
                assertEquals(length, rows.size());
                for (int query = 0; query < length; query++) {
                    assertEquals(length, rows.get(query).size());
                    double sum = 0;
                    for (int key = 0; key < length; key++) {
                        double value = rows.get(query).get(key).asDouble() / scale;
                        assertEquals(maps.weight(layer, head, query, key), value, 0.5 / scale + 1e-6,
                                "layer " + layer + " head " + head + " " + query + " -> " + key);
                        sum += value;
                    }
                    assertEquals(1, sum, length / scale);
                }
            }
        }
    }

    @Test
    void referencesNothingOutsideItself() {
        String html = AttentionPage.render(AttentionMapsTest.tinyMaps(), 0, null, null).toLowerCase(Locale.ROOT);
        for (String external : List.of("http:", "https:", "src=", "@import", "url(", "<link", "<iframe", "<img", "//cdn")) {
            assertFalse(html.contains(external), "the page mentions " + external);
        }
        assertTrue(html.contains("<style>") && html.contains("<script>"), "its CSS and JS are inline");
    }

    @Test
    void tokensAndTitlesCannotBreakThePage() throws Exception {
        List<String> tokens = List.of("[CLS]", "</script><script>alert(1)</script>", "<!--", "a&amp;b", "\"'", "{{DATA}}", "[SEP]");
        int n = tokens.size();
        float[] uniform = new float[n * n];
        java.util.Arrays.fill(uniform, 1f / n);
        String source = "<b>model</b> & \"friends\" {{DATA}}";
        AttentionMaps maps = new AttentionMaps(source, tokens, new int[n],
                new boolean[] {true, false, false, false, false, false, true}, new float[][][] {{uniform}});
        String html = AttentionPage.render(maps, 0, 0, 1);

        assertEquals(2, count(html, "</script>"), "only the page's own two scripts end");
        assertEquals(1, count(html, "<!--"), "only the template's own comment");
        assertTrue(html.contains("<title>jbert attention · &lt;b&gt;model&lt;/b&gt; &amp; &quot;friends&quot; {{DATA}}</title>"), html);
        JsonNode data = data(html);
        assertEquals(tokens, List.of(new ObjectMapper().treeToValue(data.get("tokens"), String[].class)));
        assertEquals(source, data.get("source").asText());
        assertWellNested(html);
    }

    @Test
    void isWellNested() {
        assertWellNested(AttentionPage.render(AttentionMapsTest.tinyMaps(), 0, null, 1));
    }

    /** Every element outside scripts and styles closes in order; there is one html, head and body. */
    static void assertWellNested(String html) {
        String markup = html.replaceAll("(?s)<script([^>]*)>.*?</script>", "<script$1></script>")
                .replaceAll("(?s)<style>.*?</style>", "<style></style>")
                .replaceAll("(?s)<!--.*?-->", "")
                .replaceFirst("(?i)<!DOCTYPE html>", "");
        assertTrue(html.startsWith("<!DOCTYPE html>"));
        Deque<String> open = new ArrayDeque<>();
        Matcher tag = Pattern.compile("<(/?)([a-zA-Z0-9]+)[^>]*?(/?)>").matcher(markup);
        int elements = 0;
        while (tag.find()) {
            String name = tag.group(2).toLowerCase(Locale.ROOT);
            if (VOID.contains(name) || !tag.group(3).isEmpty()) {
                continue;
            }
            if (tag.group(1).isEmpty()) {
                open.push(name);
                elements++;
            } else {
                assertFalse(open.isEmpty(), "</" + name + "> closes nothing");
                assertEquals(open.pop(), name, "</" + name + "> closes the wrong element");
            }
        }
        assertTrue(open.isEmpty(), "unclosed: " + open);
        assertEquals(1, count(markup, "<html"));
        assertEquals(1, count(markup, "<head>"));
        assertEquals(1, count(markup, "<body>"));
        assertTrue(elements > 20, "the page has its controls, columns and panels");
    }

    private static int count(String text, String part) {
        int count = 0;
        for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) {
            count++;
        }
        return count;
    }
}
