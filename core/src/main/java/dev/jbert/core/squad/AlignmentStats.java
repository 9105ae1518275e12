package dev.jbert.core.squad;

/**
 * What {@link AnswerAligner} did to a file's answers. Every answer is counted once, under the
 * first rule that placed it: exact, shifted by one or two code points, re-found elsewhere in the
 * context, or dropped because its text is nowhere in the context. An example left with no
 * answers (and not impossible) is dropped.
 */
public record AlignmentStats(int examplesRead, int answersExact, int answersShifted, int answersRefound,
                             int answersDropped, int examplesDropped) {

    public int examplesKept() {
        return examplesRead - examplesDropped;
    }

    /** e.g. {@code 10570 examples read, 10570 kept; answers: 34726 exact, 0 shifted by 1-2, 36 re-found elsewhere, 0 dropped} */
    public String summary() {
        return examplesRead + " examples read, " + examplesKept() + " kept; answers: " + answersExact + " exact, "
                + answersShifted + " shifted by 1-2, " + answersRefound + " re-found elsewhere, " + answersDropped
                + " dropped";
    }
}
