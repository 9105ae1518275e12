package dev.jbert.core.squad;

import java.util.List;

/**
 * One question about one paragraph. {@code answers} is empty exactly when the question is
 * {@code impossible} (SQuAD v2.0's {@code is_impossible}); v1.1 questions always have answers.
 * Examples of the same paragraph share one {@code context} string.
 */
public record SquadExample(String id, String title, String question, String context, List<SquadAnswer> answers,
                           boolean impossible) {
    public SquadExample {
        answers = List.copyOf(answers);
    }

    /** The same question with other answers (after alignment). */
    SquadExample withAnswers(List<SquadAnswer> aligned) {
        return new SquadExample(id, title, question, context, aligned, impossible);
    }
}
