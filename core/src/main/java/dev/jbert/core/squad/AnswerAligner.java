package dev.jbert.core.squad;

import dev.jbert.tokenizer.CodePoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Makes every answer's start point at its text: {@code context[start, start + len(text))}, in code
 * points, must equal the text. Starts off by one or two are shifted back (the reference notebook's
 * fix, tried in the order -1, +1, -2, +2); otherwise the occurrence of the text nearest to the
 * given start wins; a text that is nowhere in the context is dropped.
 */
public final class AnswerAligner {
    /** How an answer was placed; its counter in {@link AlignmentStats} has the same name. */
    public enum Outcome { EXACT, SHIFTED, REFOUND, DROPPED }

    /** The answer with its start corrected, or a null answer when it was dropped. */
    public record Aligned(Outcome outcome, SquadAnswer answer) {}

    private static final int[] SHIFTS = {-1, 1, -2, 2};

    private AnswerAligner() {}

    /**
     * The examples of {@code file} with their answers aligned; examples that lose all their answers
     * (and are not impossible) are left out. Nothing left is an error, named after {@code file}.
     */
    public static SquadDataset align(Path file, List<SquadExample> examples) {
        int[] counts = new int[Outcome.values().length];
        List<SquadExample> kept = new ArrayList<>(examples.size());
        String context = null;
        int[] contextCodePoints = null;
        for (SquadExample example : examples) {
            if (example.context() != context) {   // examples of one paragraph share the string: convert it once
                context = example.context();
                contextCodePoints = CodePoints.of(context);
            }
            List<SquadAnswer> answers = new ArrayList<>(example.answers().size());
            for (SquadAnswer answer : example.answers()) {
                Aligned aligned = align(contextCodePoints, answer);
                counts[aligned.outcome().ordinal()]++;
                if (aligned.answer() != null) answers.add(aligned.answer());
            }
            if (example.impossible() || !answers.isEmpty()) kept.add(example.withAnswers(answers));
        }
        var stats = new AlignmentStats(examples.size(), counts[Outcome.EXACT.ordinal()],
                counts[Outcome.SHIFTED.ordinal()], counts[Outcome.REFOUND.ordinal()],
                counts[Outcome.DROPPED.ordinal()], examples.size() - kept.size());
        if (kept.isEmpty()) {
            throw new SquadFormatException(file + ": no usable questions (" + stats.summary() + ")");
        }
        return new SquadDataset(file, kept, stats);
    }

    /** Aligns one answer to {@code context}, given as code points. */
    public static Aligned align(int[] context, SquadAnswer answer) {
        int[] text = CodePoints.of(answer.text());
        int start = answer.start();
        if (occursAt(context, text, start)) return new Aligned(Outcome.EXACT, answer);
        for (int shift : SHIFTS) {
            if (occursAt(context, text, start + shift)) {
                return new Aligned(Outcome.SHIFTED, new SquadAnswer(answer.text(), start + shift));
            }
        }
        int nearest = -1;
        for (int at = 0; at + text.length <= context.length; at++) {
            // ties go to the earlier occurrence, which is seen first
            if (occursAt(context, text, at) && (nearest < 0 || Math.abs(at - start) < Math.abs(nearest - start))) {
                nearest = at;
            }
        }
        return nearest < 0 ? new Aligned(Outcome.DROPPED, null)
                : new Aligned(Outcome.REFOUND, new SquadAnswer(answer.text(), nearest));
    }

    private static boolean occursAt(int[] context, int[] text, int at) {
        return at >= 0 && at + text.length <= context.length
                && Arrays.equals(context, at, at + text.length, text, 0, text.length);
    }
}
