package dev.jbert.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every question/context pair of SQuAD v1.1 (train and dev), tokenized by jbert and by Hugging
 * Face: identical ids, type ids and offsets without truncation and with run_qa's 384/128 windows,
 * and the same number of windows (features) with the question's leading whitespace stripped, as
 * run_qa does. HF encodes in batches on all cores; the data comes from ../shared.
 */
class SquadParityTest {
    static final Truncation RUN_QA = new Truncation(384, 128);
    static final int BATCH = 1024;

    @ParameterizedTest
    @ValueSource(strings = {"dev-v1.1.json", "train-v1.1.json"})
    void everyPairMatchesHuggingFace(String file) {
        SquadPairs squad = SquadPairs.load(file);
        BertTokenizer jbert = BertTokenizer.bertBaseUncased();
        List<String> mismatches = new ArrayList<>();
        int hfWindows = 0, jbertWindows = 0, untruncatedChecks = 0;
        try (HuggingFaceReference hf = HuggingFaceReference.untruncated(jbert.vocab());
             HuggingFaceReference hfRunQa = HuggingFaceReference.windowedPairs(jbert.vocab(), RUN_QA)) {
            for (int from = 0; from < squad.size() && mismatches.size() < 10; from += BATCH) {
                int to = Math.min(squad.size(), from + BATCH);
                List<String> questions = squad.questions().subList(from, to), contexts = squad.contexts().subList(from, to);
                List<String> stripped = questions.stream().map(String::stripLeading).toList();
                var expectedWindows = hfRunQa.encodePairs(stripped, contexts);
                for (int k = 0; k < to - from; k++) {
                    var actual = jbert.encodePair(stripped.get(k), contexts.get(k), RUN_QA);
                    String windowed = Parity.difference(expectedWindows.get(k), actual, jbert);
                    if (windowed != null) mismatches.add("pair " + (from + k) + " at 384/128: " + windowed);
                    hfWindows += expectedWindows.get(k).size();
                    jbertWindows += actual.size();
                    // a pair that fits in one window is never cut, so that window already is the untruncated
                    // encoding (up to the question's leading whitespace, which moves question offsets):
                    // ask HF separately only for the raw question, or for the pairs it had to cut
                    String question = questions.get(k);
                    if (expectedWindows.get(k).size() > 1 || !question.equals(stripped.get(k))) {
                        String whole = Parity.difference(hf.encodePair(question, contexts.get(k)),
                                List.of(jbert.encodePair(question, contexts.get(k))), jbert);
                        if (whole != null) mismatches.add("pair " + (from + k) + " untruncated: " + whole);
                        untruncatedChecks++;
                    }
                }
            }
        }
        System.out.printf("%s: %d pairs (%d also compared untruncated); windows at 384/128: jbert %d, Hugging Face %d%n",
                file, squad.size(), untruncatedChecks, jbertWindows, hfWindows);
        assertTrue(mismatches.isEmpty(), () -> String.join("\n", mismatches));
        assertEquals(hfWindows, jbertWindows);
    }
}
