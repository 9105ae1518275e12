package dev.jbert.core.squad;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

// every expected value below was printed by the official evaluate-v1.1.py functions under Python 3.11
class SquadMetricTest {
    @Test
    void articlesGoAsWholeWordsOnly() {
        assertEquals("cat and dog apple", SquadMetric.normalize("The cat and a dog, an apple"));
        assertEquals("theory of anthem", SquadMetric.normalize("Theory of an anthem"));
        assertEquals("end", SquadMetric.normalize("THE END"));
        assertEquals("the1 a2", SquadMetric.normalize("the1 a2"), "digits are word characters");
        // punctuation goes first, so these join into one word before articles are looked for
        assertEquals("athe", SquadMetric.normalize("An a-the"));
        assertEquals("theend", SquadMetric.normalize("the_end"));
        assertEquals("lan 2000", SquadMetric.normalize("l'an 2000"));
        // re's \b is Unicode: é is a letter, a combining acute is not
        assertEquals("théory", SquadMetric.normalize("th\u00e9ory"));
        assertEquals("\u0301ory", SquadMetric.normalize("the\u0301ory"));
        assertEquals("à", SquadMetric.normalize("\u00e0 the"));
    }

    @Test
    void onlyAsciiPunctuationIsRemoved() {
        assertEquals("usa – “quoted” 1000 ¿qué", SquadMetric.normalize("U.S.A. – “quoted” (1,000)! ¿qué?"));
    }

    @Test
    void whitespaceIsPythons() {
        // no-break, thin and ideographic spaces, U+001C and U+0085 split; a zero-width space does not
        assertEquals("new york city x \u200bzero",
                SquadMetric.normalize("  New\u00a0York\u2009City \u3000 \u001c\u0085 x \u200bzero"));
        assertEquals("", SquadMetric.normalize("  the  "));
        assertEquals("", SquadMetric.normalize(""));
    }

    @Test
    void lowercaseIsPythons() {
        assertEquals("οδος", SquadMetric.normalize("ΟΔΟΣ."));
        assertEquals("ας–σ", SquadMetric.normalize("ΑΣ–Σ"), "final sigma by CPython's rule, not Java's");
        assertEquals("i\u0307stanbul", SquadMetric.normalize("İstanbul"));
    }

    @Test
    void f1CountsSharedTokensAsMultisets() {
        // [cat, cat, sat] against [cat, sat, on, mat]: 2 shared, precision 2/3, recall 2/4
        assertEquals(0.5714285714285715, SquadMetric.f1("the cat the cat sat", "cat sat on mat"));
        assertEquals(0.8, SquadMetric.f1("cat cat cat", "cat cat"));
        assertEquals(0.6666666666666666, SquadMetric.f1("Broncos", "Denver Broncos"));
        assertEquals(1.0, SquadMetric.f1("Denver Broncos", "the denver broncos!"));
        assertTrue(SquadMetric.exactMatch("Denver Broncos", "the denver broncos!"));
    }

    @Test
    void emptyAnswers() {
        assertEquals(0.0, SquadMetric.f1("", "Broncos"));
        assertFalse(SquadMetric.exactMatch("", "Broncos"));
        // both normalize to "": an exact match with no tokens, so F1 0
        assertTrue(SquadMetric.exactMatch("the", "a"));
        assertEquals(0.0, SquadMetric.f1("the", "a"));
    }

    @Test
    void scoresTakeTheBestGoldAndCountMissingAsZero() {
        Map<String, List<String>> golds = new LinkedHashMap<>();
        golds.put("q1", List.of("Denver Broncos", "The Denver Broncos"));
        golds.put("q2", List.of("Carolina Panthers"));
        golds.put("q3", List.of("Santa Clara, California", "Levi's Stadium"));

        // q3 unanswered, q4 unknown and ignored
        SquadMetric.Scores partial = SquadMetric.score(golds,
                Map.of("q1", "Broncos", "q2", "the Carolina Panthers.", "q4", "Santa Clara"));
        assertEquals(new SquadMetric.Scores(33.333333333333336, 55.55555555555555, 3, 2), partial);
        assertEquals("{\"exact_match\": 33.333333333333336, \"f1\": 55.55555555555555}", SquadMetric.toJson(partial));

        // q3's best gold is the second; the sum 1 + 1 + 2/3 is taken in file order
        SquadMetric.Scores full = SquadMetric.score(golds,
                Map.of("q1", "denver broncos", "q2", "Carolina Panthers", "q3", "Levi's"));
        assertEquals("{\"exact_match\": 66.66666666666667, \"f1\": 88.88888888888887}", SquadMetric.toJson(full));
        assertEquals(3, full.answered());
    }

    @Test
    void floatsPrintAsPythonRepr() {
        assertEquals("100.0", SquadMetric.pythonFloat(100.0));
        assertEquals("0.0", SquadMetric.pythonFloat(0.0));
        assertEquals("81.2", SquadMetric.pythonFloat(81.2));
        assertEquals("81.20000000000002", SquadMetric.pythonFloat(81.20000000000001), "the same double");
        assertEquals("0.0001", SquadMetric.pythonFloat(0.0001));
        assertEquals("1e-05", SquadMetric.pythonFloat(1e-5));
        assertEquals("1.23456e-05", SquadMetric.pythonFloat(1.23456e-5));
        assertEquals("1000000000000000.0", SquadMetric.pythonFloat(1e15));
        assertEquals("1.5e+16", SquadMetric.pythonFloat(1.5e16));
        assertEquals("5e-324", SquadMetric.pythonFloat(Double.MIN_VALUE), "Double.toString says 4.9E-324");
    }
}
