package dev.jbert.core.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jbert.core.model.Batch;
import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.Dropout;
import dev.jbert.core.squad.Evaluator;
import dev.jbert.core.squad.TrainingFeature;
import dev.jbert.kernels.AdamW;
import dev.jbert.tokenizer.Vocab;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.util.List;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * The fine-tuning loop, run_qa's recipe: shuffled batches padded to their longest window, dropout
 * on, AdamW (decay 0.01, none on biases and LayerNorm), gradients clipped to norm 1.0, a linear
 * schedule with warmup over the training steps, gradient accumulation over {@code gradAccum}
 * batches. After each epoch: dev loss and EM/F1, a line in metrics.jsonl, the plots, a checkpoint.
 * Every {@link #LOG_EVERY} steps a training line also carries each layer's gradient norm and update
 * ratio ({@link LayerDynamics}), measured on that step alone.
 *
 * <p>Everything that decides the numbers (data order, dropout masks, schedule) is a function of the
 * seed and the step counters, so a run resumed from a checkpoint continues exactly as if it had
 * never stopped.
 */
public final class Trainer {
    /** Optimizer steps between two training lines in metrics.jsonl (and between progress updates of the loss). */
    static final int LOG_EVERY = 10;

    private final BertQa model;
    private final Vocab vocab;
    private final Optimizer optimizer;
    private final TrainSettings settings;
    private final List<TrainingFeature> train;
    private final Evaluator dev;
    private final Path output;
    private final PrintWriter out;
    private final MetricsLog metrics;
    private final LayerDynamics dynamics;
    private final int batchesPerEpoch;
    private final int stepsPerEpoch;     // optimizer steps: the last one of an epoch may take fewer batches
    private final int totalSteps;
    private final LearningRateSchedule schedule;
    private int epochsDone;
    private int step;
    private int microStep;

    /** A run from the start ({@code resumed} null) or from a checkpoint's state (the optimizer already restored). */
    public Trainer(BertQa model, Vocab vocab, Optimizer optimizer, TrainSettings settings, List<TrainingFeature> train,
                   Evaluator dev, Path output, PrintWriter out, Checkpoints.State resumed) {
        this.model = model;
        this.vocab = vocab;
        this.optimizer = optimizer;
        this.settings = settings;
        this.train = train;
        this.dev = dev;
        this.output = output;
        this.out = out;
        this.batchesPerEpoch = (train.size() + settings.batchSize() - 1) / settings.batchSize();
        this.stepsPerEpoch = (batchesPerEpoch + settings.gradAccum() - 1) / settings.gradAccum();
        int planned = stepsPerEpoch * settings.epochs();
        this.totalSteps = settings.maxSteps() > 0 ? Math.min(settings.maxSteps(), planned) : planned;
        this.schedule = LearningRateSchedule.withWarmupRatio(settings.learningRate(), settings.warmupRatio(), totalSteps);
        if (resumed != null) {
            epochsDone = resumed.epochsDone();
            step = resumed.step();
            microStep = resumed.microStep();
        }
        Checkpoints.clearLeftovers(output);
        this.metrics = new MetricsLog(output.resolve("metrics.jsonl"), step);
        this.dynamics = new LayerDynamics(model);
    }

    public int totalSteps() {
        return totalSteps;
    }

    /** Trains the remaining epochs; returns the last evaluation (or the first, if nothing was left to do). */
    public Evaluator.Result run() {
        Evaluator.Result result = null;
        if (step == 0) {
            result = evaluate("before training");
        }
        while (epochsDone < settings.epochs() && step < totalSteps) {
            trainEpoch(epochsDone);
            epochsDone++;
            result = evaluate("epoch " + epochsDone);
            Path checkpoint = Checkpoints.write(output, model, vocab, optimizer,
                    new Checkpoints.State(epochsDone, step, microStep, settings, train.size()));
            out.println("  checkpoint: " + checkpoint);
            out.flush();
        }
        return result != null ? result : evaluate("resumed, nothing left to train");
    }

    private void trainEpoch(int epoch) {
        int[] order = FeatureBatches.order(train.size(), settings.seed(), epoch);
        int stepsThisEpoch = Math.min(totalSteps - step, stepsPerEpoch);
        AdamW adamW = new AdamW(settings.learningRate(), 0.9f, 0.999f, 1e-8f, settings.weightDecay());
        double lossSum = 0;
        int lossCount = 0;
        long logStart = System.nanoTime();
        int examplesSinceLog = 0;
        try (ProgressBar bar = new ProgressBarBuilder()
                .setTaskName(String.format("epoch %d/%d", epoch + 1, settings.epochs()))
                .setInitialMax(stepsThisEpoch)
                .setStyle(ProgressBarStyle.ASCII)
                .setUnit(" steps", 1)
                .showSpeed(new DecimalFormat("0.00"))  // a CPU bert-base step takes ~20 s: "0.05", not ".0"
                .setMaxRenderedLength(110)
                .build()) {
            model.zeroGradients();
            int inCycle = 0;
            for (int b = 0; b < batchesPerEpoch && step < totalSteps; b++) {
                int from = b * settings.batchSize();
                Batch batch = FeatureBatches.batch(train, order, from, Math.min(train.size(), from + settings.batchSize()));
                float loss = model.forward(batch, new Dropout(settings.seed(), microStep));
                if (!Float.isFinite(loss)) {
                    throw new TrainingException("the training loss is " + loss + " at step " + (step + 1)
                            + " (epoch " + (epoch + 1) + "): stopping; the checkpoints in " + output
                            + " are intact (try a lower --lr)");
                }
                // the last cycle of an epoch may be short: scale by the batches it really has
                int cycleLength = Math.min(settings.gradAccum(), batchesPerEpoch - (b - inCycle));
                model.backward(1f / cycleLength);
                microStep++;
                inCycle++;
                lossSum += loss;
                lossCount++;
                examplesSinceLog += batch.size();
                if (inCycle == cycleLength) {
                    float rate = schedule.rate(step);
                    // the per-layer dynamics are measured on the steps that write a line, and only there
                    boolean logs = (step + 1) % LOG_EVERY == 0 || step + 1 == totalSteps || b == batchesPerEpoch - 1;
                    float norm = optimizer.step(adamW.withLearningRate(rate), 1f, logs ? dynamics : null);
                    model.zeroGradients();
                    inCycle = 0;
                    step++;
                    bar.step();
                    if (logs) {
                        double seconds = (System.nanoTime() - logStart) / 1e9;
                        ObjectNode line = metrics.newLine(step);
                        line.put("epoch", epoch + (double) (b + 1) / batchesPerEpoch);
                        line.put("loss", lossSum / lossCount);
                        line.put("learning_rate", rate);
                        line.put("grad_norm", norm);
                        line.put("examples_per_s", examplesSinceLog / seconds);
                        putDynamics(line, dynamics.read());
                        metrics.append(line);
                        bar.setExtraMessage(String.format(" loss %.3f, %.1f ex/s", lossSum / lossCount, examplesSinceLog / seconds));
                        lossSum = 0;
                        lossCount = 0;
                        examplesSinceLog = 0;
                        logStart = System.nanoTime();
                    }
                }
            }
        }
    }

    /** {@code "layer_grad_norms": {"embeddings": ..., "layer_0": ..., ..., "qa_head": ...}}, and the same for the update ratios. */
    private static void putDynamics(ObjectNode line, LayerDynamics.Measurement measured) {
        ObjectNode gradNorms = line.putObject(TrainingDynamicsPlot.GRAD_NORMS);
        ObjectNode updateRatios = line.putObject(TrainingDynamicsPlot.UPDATE_RATIOS);
        for (int g = 0; g < measured.groups().size(); g++) {
            gradNorms.put(measured.groups().get(g), measured.gradNorms()[g]);
            updateRatios.put(measured.groups().get(g), measured.updateRatios()[g]);
        }
    }

    private Evaluator.Result evaluate(String when) {
        long start = System.nanoTime();
        Evaluator.Result result = dev.evaluate(model);
        double seconds = (System.nanoTime() - start) / 1e9;
        ObjectNode line = metrics.newLine(step);
        line.put("epoch", epochsDone);
        line.put("dev_loss", result.loss());
        line.put("exact_match", result.scores().exactMatch());
        line.put("f1", result.scores().f1());
        metrics.append(line);
        try {
            TrainingPlot.write(metrics.lines(), output.resolve("training.png"));
            TrainingDynamicsPlot.write(metrics.lines(), output.resolve("training-dynamics.png"));
        } catch (LinkageError | RuntimeException e) {
            // a plot is never worth a training run: a trimmed Java runtime without java.desktop (the GPU
            // check's jlink'd one) cannot draw, nor can a full one on a machine without fonts
            String why = e instanceof LinkageError ? "this Java runtime has no java.desktop module" : "drawing failed: " + e.getMessage();
            out.println("  (no training.png or training-dynamics.png: " + why + ")");
        }
        out.printf("%s: dev loss %.3f, EM %.2f, F1 %.2f (%d questions, %d windows, %.0f s)%n", when, result.loss(),
                result.scores().exactMatch(), result.scores().f1(), result.scores().total(), dev.windows(), seconds);
        out.flush();
        return result;
    }
}
