package dev.jbert.core.squad;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jbert.core.squad.AnswerAligner.Aligned;
import dev.jbert.core.squad.AnswerAligner.Outcome;
import dev.jbert.tokenizer.CodePoints;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AnswerAlignerTest {
    // "cat" is at 4 and 30, "sat" at 8, "mat" at 19
    static final String CONTEXT = "the cat sat on the mat by the cat";
    static final int SAT = 8;

    static Aligned align(String context, String text, int start) {
        return AnswerAligner.align(CodePoints.of(context), new SquadAnswer(text, start));
    }

    static SquadExample example(String id, String context, SquadAnswer... answers) {
        return new SquadExample(id, "T", "Q?", context, List.of(answers), false);
    }

    @Test
    void exactStartsAreKept() {
        assertEquals(new Aligned(Outcome.EXACT, new SquadAnswer("sat", SAT)), align(CONTEXT, "sat", SAT));
    }

    @ParameterizedTest
    @ValueSource(ints = {-2, -1, 1, 2})
    void startsOffByOneOrTwoAreShiftedBack(int offBy) {
        assertEquals(new Aligned(Outcome.SHIFTED, new SquadAnswer("sat", SAT)), align(CONTEXT, "sat", SAT + offBy));
    }

    @Test
    void shiftsCountCodePoints() {
        // the emoji is 2 UTF-16 units but one code point: "sat" is at code point 9, UTF-16 index 10
        String context = "a 😀 cat: sat";
        assertEquals(new Aligned(Outcome.EXACT, new SquadAnswer("sat", 9)), align(context, "sat", 9));
        assertEquals(new Aligned(Outcome.SHIFTED, new SquadAnswer("sat", 9)), align(context, "sat", 10));
    }

    @Test
    void fartherStartsGoToTheNearestOccurrence() {
        // "cat" is at 4 and at 30
        assertEquals(new Aligned(Outcome.REFOUND, new SquadAnswer("cat", 4)), align(CONTEXT, "cat", 12));
        assertEquals(new Aligned(Outcome.REFOUND, new SquadAnswer("cat", 30)), align(CONTEXT, "cat", 22));
        assertEquals(new Aligned(Outcome.REFOUND, new SquadAnswer("cat", 4)), align(CONTEXT, "cat", 17), "a tie goes to the first");
        assertEquals(new Aligned(Outcome.REFOUND, new SquadAnswer("cat", 30)), align(CONTEXT, "cat", 500), "past the end");
    }

    @Test
    void textsNotInTheContextAreDropped() {
        assertEquals(new Aligned(Outcome.DROPPED, null), align(CONTEXT, "dog", 4));
        assertEquals(new Aligned(Outcome.DROPPED, null), align(CONTEXT, "Cat", 4), "case matters");
    }

    @Test
    void examplesWithoutAnswersLeftAreDroppedAndCounted() {
        var keptWithOne = example("a", CONTEXT, new SquadAnswer("dog", 0), new SquadAnswer("mat", 20));
        var dropped = example("b", CONTEXT, new SquadAnswer("dog", 0));
        var impossible = new SquadExample("c", "T", "Q?", CONTEXT, List.of(), true);
        var shifted = example("d", CONTEXT, new SquadAnswer("sat", 9), new SquadAnswer("sat", SAT));

        SquadDataset dataset = AnswerAligner.align(Path.of("dev.json"), List.of(keptWithOne, dropped, impossible, shifted));
        assertEquals(List.of("a", "c", "d"), dataset.examples().stream().map(SquadExample::id).toList());
        assertEquals(List.of(new SquadAnswer("mat", 19)), dataset.examples().get(0).answers());
        assertEquals(impossible, dataset.examples().get(1));
        assertEquals(List.of(new SquadAnswer("sat", SAT), new SquadAnswer("sat", SAT)), dataset.examples().get(2).answers());
        assertEquals(new AlignmentStats(4, 1, 2, 0, 2, 1), dataset.stats());
        assertEquals("4 examples read, 3 kept; answers: 1 exact, 2 shifted by 1-2, 0 re-found elsewhere, 2 dropped",
                dataset.stats().summary());
    }

    @Test
    void nothingUsableLeftIsAnError() {
        var examples = List.of(example("a", CONTEXT, new SquadAnswer("dog", 0)), example("b", CONTEXT, new SquadAnswer("cow", 3)));
        var e = assertThrows(SquadFormatException.class, () -> AnswerAligner.align(Path.of("train.json"), examples));
        assertEquals("train.json: no usable questions (2 examples read, 0 kept; answers: 0 exact, 0 shifted by 1-2, "
                + "0 re-found elsewhere, 2 dropped)", e.getMessage());
    }
}
