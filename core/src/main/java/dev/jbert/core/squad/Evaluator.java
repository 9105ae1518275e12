package dev.jbert.core.squad;

import dev.jbert.core.model.Batch;
import dev.jbert.core.model.BertQa;
import dev.jbert.core.qa.Answerer;
import dev.jbert.core.qa.SpanSearch;
import dev.jbert.core.train.FeatureBatches;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.CodePoints;
import dev.jbert.tokenizer.Truncation;
import dev.jbert.tokenizer.Window;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Evaluation on a dev set, as run_qa and the official script do it: every window of every question
 * through the model (in eval mode), the n-best span search over all windows of a question
 * ({@link SpanSearch}: 20 best starts x 20 best ends, at most 30 tokens), the answer text cut from
 * the original context by the offsets, and EM/F1 over the gold answers. The dev loss comes along:
 * the same labelled windows as training, averaged over windows.
 */
public final class Evaluator {
    /** One candidate answer of a question, as written to nbest_predictions.json. */
    public record Candidate(String text, float score, double probability, int start, int end) {}

    /** What an evaluation gives: the dev loss, the scores, and every question's prediction and candidates. */
    public record Result(double loss, SquadMetric.Scores scores, Map<String, String> predictions,
                         Map<String, List<Candidate>> nbest) {}

    private final List<SquadExample> examples;
    private final List<TrainingFeature> features;

    public Evaluator(List<SquadExample> examples, BertTokenizer tokenizer, Truncation truncation) {
        this.examples = examples;
        this.features = TrainingFeatures.build(examples, tokenizer, truncation);
    }

    public int windows() {
        return features.size();
    }

    public int longestWindow() {
        return features.stream().mapToInt(f -> f.window().length()).max().orElse(1);
    }

    public Result evaluate(BertQa model) {
        int[] inOrder = FeatureBatches.inputOrder(features.size());
        List<Window> windows = features.stream().map(TrainingFeature::window).toList();
        float[][] starts = new float[features.size()][];
        float[][] ends = new float[features.size()][];
        double lossSum = 0;
        for (int from = 0; from < features.size(); from += model.maxBatch()) {
            int to = Math.min(features.size(), from + model.maxBatch());
            Batch batch = FeatureBatches.batch(features, inOrder, from, to);
            lossSum += (double) model.forward(batch, null) * batch.size();
            Answerer.keepLogits(model, batch, windows.subList(from, to), from, starts, ends);
        }
        // the windows of example e are consecutive: TrainingFeatures keeps the input order
        Map<String, String> predictions = new LinkedHashMap<>();
        Map<String, List<Candidate>> nbest = new LinkedHashMap<>();
        Map<String, List<String>> golds = new LinkedHashMap<>();
        int first = 0;
        for (int e = 0; e < examples.size(); e++) {
            int last = first;
            while (last < windows.size() && windows.get(last).example() == e) {
                last++;
            }
            SquadExample example = examples.get(e);
            List<SpanSearch.Span> spans = SpanSearch.best(windows.subList(first, last), Arrays.copyOfRange(starts, first, last),
                    Arrays.copyOfRange(ends, first, last), SpanSearch.N_BEST, SpanSearch.MAX_ANSWER_LENGTH,
                    SpanSearch.N_BEST);
            List<Candidate> candidates = candidates(example.context(), spans);
            predictions.put(example.id(), candidates.isEmpty() ? "" : candidates.getFirst().text());
            nbest.put(example.id(), candidates);
            golds.put(example.id(), example.answers().stream().map(SquadAnswer::text).toList());
            first = last;
        }
        return new Result(lossSum / Math.max(1, features.size()), SquadMetric.score(golds, predictions), predictions, nbest);
    }

    /** The spans as texts with run_qa's probabilities: a softmax over the candidates' scores. */
    private static List<Candidate> candidates(String context, List<SpanSearch.Span> spans) {
        double[] probabilities = SpanSearch.probabilities(spans);
        List<Candidate> candidates = new ArrayList<>();
        for (int i = 0; i < spans.size(); i++) {
            SpanSearch.Span span = spans.get(i);
            candidates.add(new Candidate(CodePoints.substring(context, span.start(), span.end()), span.score(),
                    probabilities[i], span.start(), span.end()));
        }
        return candidates;
    }
}
