package dev.jbert.core.squad;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.Truncation;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class TrainingFeaturesTest {
    static final BertTokenizer TOKENIZER = BertTokenizer.bertBaseUncased();
    static final Truncation RUN_QA = new Truncation(384, 128);

    // [CLS]0 where did the norman ##s live ? [SEP]8 the9 norman10 ##s11 lived in normandy14 , a region of
    // northern19 france20 , from 911 until 120 25 ##4 26 .27 [SEP]28
    static final String QUESTION = "  Where did the Normans live?";
    static final String CONTEXT = "The Normans lived in Normandy, a region of northern France, from 911 until 1204.";

    // with the question "Where?" and 12 tokens a window holds 7 context tokens, 2 shared with the next:
    //   window 0: [CLS] where ? [SEP] one4 two three four five six seven10 [SEP]
    //   window 1: [CLS] where ? [SEP] six4 seven eight nine ten eleven twelve10 [SEP]
    //   window 2: [CLS] where ? [SEP] eleven4 twelve thirteen fourteen fifteen sixteen9 [SEP]
    static final String COUNTING = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen";
    static final Truncation SMALL = new Truncation(12, 2);

    /** An example whose one answer is the first occurrence of {@code text} in the (ASCII) context. */
    static SquadExample example(String question, String context, String text) {
        return new SquadExample("id", "T", question, context, List.of(new SquadAnswer(text, context.indexOf(text))), false);
    }

    /** The start and end label of each window, e.g. {@code "10-10 5-5 0-0"}. */
    static String labels(SquadExample example, Truncation truncation) {
        return TrainingFeatures.build(List.of(example), TOKENIZER, truncation).stream()
                .map(f -> f.startPosition() + "-" + f.endPosition()).collect(Collectors.joining(" "));
    }

    static String labels(String question, String context, String answer, Truncation truncation) {
        return labels(example(question, context, answer), truncation);
    }

    @Test
    void answersAreLabelledWithTheirFirstAndLastToken() {
        assertEquals("14-14", labels(QUESTION, CONTEXT, "Normandy", RUN_QA));
        assertEquals("19-20", labels(QUESTION, CONTEXT, "northern France", RUN_QA));
        assertEquals("10-11", labels(QUESTION, CONTEXT, "Normans", RUN_QA));
        assertEquals("9-27", labels(QUESTION, CONTEXT, CONTEXT, RUN_QA));
    }

    @Test
    void tokensStraddlingTheAnswerBoundaryArePartOfIt() {
        assertEquals("10-11", labels(QUESTION, CONTEXT, "ormans", RUN_QA));   // starts inside "norman"
        assertEquals("10-10", labels(QUESTION, CONTEXT, "Norma", RUN_QA));    // ends inside it
        assertEquals("25-26", labels(QUESTION, CONTEXT, "204", RUN_QA));      // from inside "120" into "##4"
    }

    @Test
    void theQuestionsLeadingWhitespaceIsStripped() {
        var feature = TrainingFeatures.build(List.of(example(QUESTION, CONTEXT, "Normandy")), TOKENIZER, RUN_QA).getFirst();
        assertEquals(0, feature.window().offsetStarts()[1], "offsets count from the stripped question");
        assertEquals(9, feature.window().contextStart());
    }

    @Test
    void windowsWithoutTheWholeAnswerAreLabelledCls() {
        assertEquals("0-0 7-7 0-0", labels("Where?", COUNTING, "nine", SMALL));
        // window 0 holds "six seven" but not "eight": only window 1 holds all of it
        assertEquals("0-0 4-6 0-0", labels("Where?", COUNTING, "six seven eight", SMALL));
    }

    @Test
    void answersAtTheVeryEndOfAWindow() {
        // "seven" is window 0's last context token: run_qa would label its start [SEP] (position 11), see label()
        assertEquals("10-10 5-5 0-0", labels("Where?", COUNTING, "seven", SMALL));
        assertEquals("9-10 4-5 0-0", labels("Where?", COUNTING, "six seven", SMALL));
        assertEquals("0-0 0-0 9-9", labels("Where?", COUNTING, "sixteen", SMALL));
    }

    @Test
    void onlyTheFirstAnswerCounts() {
        var twoAnswers = new SquadExample("id", "T", "Where?", COUNTING,
                List.of(new SquadAnswer("two", 4), new SquadAnswer("twelve", COUNTING.indexOf("twelve"))), false);
        assertEquals("5-5 0-0 0-0", labels(twoAnswers, SMALL));
    }

    @Test
    void impossibleQuestionsAreLabelledCls() {
        var impossible = new SquadExample("id", "T", "Where?", COUNTING, List.of(), true);
        assertEquals("0-0 0-0 0-0", labels(impossible, SMALL));
    }

    @Test
    void windowsKnowTheirExample() {
        var examples = List.of(example("Where?", COUNTING, "six"), example(QUESTION, CONTEXT, "France"), example("Who?", COUNTING, "ten"));
        // 20 tokens: 15 of the counting context fit, 10 of the other
        var features = TrainingFeatures.build(examples, TOKENIZER, new Truncation(20, 2));
        assertEquals(List.of(0, 0, 1, 1, 1, 2, 2), features.stream().map(f -> f.window().example()).toList());
    }
}
