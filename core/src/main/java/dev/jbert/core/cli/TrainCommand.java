package dev.jbert.core.cli;

import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.core.squad.Evaluator;
import dev.jbert.core.squad.SquadDataset;
import dev.jbert.core.squad.SquadReader;
import dev.jbert.core.squad.TrainingFeature;
import dev.jbert.core.squad.TrainingFeatures;
import dev.jbert.core.train.Checkpoints;
import dev.jbert.core.train.Optimizer;
import dev.jbert.core.train.TrainSettings;
import dev.jbert.core.train.Trainer;
import dev.jbert.core.train.TrainingException;
import dev.jbert.kernels.Backend;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.Truncation;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code jbert train}: fine-tunes a BERT for SQuAD. With no options it runs the embedded default
 * (a small pretrained BERT on 0.7% of SQuAD train, evaluated on 1% of dev), which finishes in minutes
 * on two cores; the options reproduce run_qa's full recipe.
 */
@Command(name = "train",
        mixinStandardHelpOptions = true,
        description = {
            "Fine-tune BERT for extractive question answering on SQuAD.",
            "Without --model: the embedded default, all-MiniLM-L6-v2 on 0.7%% of SQuAD train, evaluated on 1%% of dev,",
            "with defaults sized for minutes on 2 cores (shown as embedded / with --model below).",
            "Writes OUTPUT/metrics.jsonl, OUTPUT/training.png, OUTPUT/training-dynamics.png (per-layer gradient norms",
            "and update ratios) and OUTPUT/checkpoint-epoch-N/ after each epoch."})
final class TrainCommand implements Callable<Integer> {
    /** Where the launcher says the project is (for the embedded default's files); else the working directory. */
    static Path home() {
        return Path.of(System.getProperty("jbert.home", "."));
    }

    static final String DEFAULT_MODEL = "models/all-minilm-l6-v2";
    static final String DEFAULT_TRAIN = "data/squad-slice/train.json";
    static final String DEFAULT_DEV = "data/squad-slice/dev.json";

    /** The defaults of epochs, batch, lr and windows: the embedded run's (minutes on 2 cores), and a real run's. */
    private static final TrainSettings EMBEDDED = new TrainSettings(1, 8, 1, 1e-4f, 0.01f, 0.1, 192, 64, 42, 0, 0);
    private static final TrainSettings WITH_MODEL = new TrainSettings(2, 16, 1, 5e-5f, 0.01f, 0.1, 384, 128, 42, 0, 0);

    @Spec
    CommandSpec spec;

    @Mixin
    DeviceOptions deviceOptions;

    @Option(names = "--model", paramLabel = "DIR", description = "Pretrained or converted model directory (default: " + DEFAULT_MODEL + ", fetched by the launcher).")
    Path model;

    @Option(names = "--train", paramLabel = "FILE", description = "SQuAD training file (default: " + DEFAULT_TRAIN + ").")
    Path trainFile;

    @Option(names = "--dev", paramLabel = "FILE", description = "SQuAD dev file, evaluated before training and after each epoch (default: " + DEFAULT_DEV + ").")
    Path devFile;

    @Option(names = "--output", paramLabel = "DIR", description = "Where checkpoints, metrics.jsonl and training.png go (default: runs/train-DATE-TIME).")
    Path output;

    @Option(names = "--resume", paramLabel = "DIR", description = "Continue from a checkpoint (or the latest one in an output directory).")
    Path resume;

    @Option(names = "--epochs", description = "Epochs (default: 1 embedded / 2 with --model).")
    Integer epochs;

    @Option(names = "--batch-size", description = "Windows per batch (default: 8 embedded / 16 with --model).")
    Integer batchSize;

    @Option(names = "--grad-accum", defaultValue = "1", description = "Batches per optimizer step (default: ${DEFAULT-VALUE}).")
    int gradAccum;

    @Option(names = "--lr", description = "Peak learning rate (run_qa's bert-base recipe: 3e-5) (default: 1e-4 embedded / 5e-5 with --model).")
    Float learningRate;

    @Option(names = "--weight-decay", defaultValue = "0.01", description = "AdamW weight decay, not on biases and LayerNorm (default: ${DEFAULT-VALUE}).")
    float weightDecay;

    @Option(names = "--warmup-ratio", defaultValue = "0.1", description = "Share of the steps spent warming up (default: ${DEFAULT-VALUE}).")
    double warmupRatio;

    @Option(names = "--max-seq-length", description = "Tokens per window (default: 192 embedded / 384 with --model).")
    Integer maxSeqLength;

    @Option(names = "--doc-stride", description = "Context tokens shared by consecutive windows (default: 64 embedded / 128 with --model).")
    Integer docStride;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the data order, dropout and the QA head's initialisation (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--max-steps", defaultValue = "0", description = "Stop after this many optimizer steps (default: no limit).")
    int maxSteps;

    @Option(names = "--limit", defaultValue = "0", description = "Train on the first N questions only (default: all).")
    int limit;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Checkpoints.State resumed = null;
        Path checkpoint = null;
        if (resume != null) {
            checkpoint = Files.exists(resume.resolve(Checkpoints.STATE)) ? resume
                    : Checkpoints.latest(resume).orElseThrow(() -> new UserError(resume + ": no complete checkpoint to resume from"));
            resumed = Checkpoints.readState(checkpoint);
        }
        // options not given take the resumed run's values, or the defaults of the embedded or a real run
        boolean embedded = model == null && resume == null;
        TrainSettings base = resumed != null ? resumed.settings() : embedded ? EMBEDDED : WITH_MODEL;
        TrainSettings settings = new TrainSettings(orDefault(epochs, base.epochs()), orDefault(batchSize, base.batchSize()),
                gradAccum, orDefault(learningRate, base.learningRate()), weightDecay, warmupRatio,
                orDefault(maxSeqLength, base.maxSeqLength()), orDefault(docStride, base.docStride()), seed, maxSteps, limit);
        check(settings);
        Truncation truncation = new Truncation(settings.maxSeqLength(), settings.docStride());
        if (resumed != null) {
            String difference = resumed.settings().differenceFrom(settings);
            if (difference != null) {
                throw new TrainingException(checkpoint + ": cannot resume a different run (" + difference + ")");
            }
            if (output == null) {
                output = checkpoint.toAbsolutePath().getParent();
            }
        }
        Path modelDir = checkpoint != null ? checkpoint : model != null ? model : home().resolve(DEFAULT_MODEL);
        if (model == null && checkpoint == null && !Files.isDirectory(modelDir)) {
            throw new UserError(modelDir + ": the default model is missing; run scripts/fetch-minilm (./jbert train does it), or pass --model DIR");
        }
        Path outputDir = output != null ? output : home().resolve("runs").resolve(
                "train-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        prepareOutput(outputDir);

        SquadDataset train = SquadReader.read(trainFile != null ? trainFile : home().resolve(DEFAULT_TRAIN));
        SquadDataset dev = SquadReader.read(devFile != null ? devFile : home().resolve(DEFAULT_DEV));
        out.println("train: " + train.file() + ": " + train.stats().summary());
        out.println("dev:   " + dev.file() + ": " + dev.stats().summary());
        var trainExamples = limit > 0 ? train.examples().subList(0, Math.min(limit, train.examples().size())) : train.examples();

        try (Backend backend = deviceOptions.open(err, true)) {
            ModelDirectory.Loaded loaded = ModelDirectory.load(modelDir, backend, settings.batchSize(), settings.maxSeqLength(), seed);
            loaded.notes().forEach(note -> out.println("model: " + note));
            BertQa bert = loaded.model();
            BertTokenizer tokenizer = new BertTokenizer(loaded.vocab());
            List<TrainingFeature> features = TrainingFeatures.build(trainExamples, tokenizer, truncation);
            Evaluator evaluator = new Evaluator(dev.examples(), tokenizer, truncation);
            if (resumed != null && resumed.trainFeatures() != features.size()) {
                throw new TrainingException(checkpoint + ": cannot resume a different run (it trained on "
                        + resumed.trainFeatures() + " windows, this data gives " + features.size() + ")");
            }
            Optimizer optimizer = new Optimizer(bert);
            if (resumed != null) {
                Checkpoints.restoreOptimizer(checkpoint, optimizer, bert, resumed.step());
            }
            Trainer trainer = new Trainer(bert, loaded.vocab(), optimizer, settings, features, evaluator, outputDir, out, resumed);
            out.printf("model %s (%d layers, hidden %d, %,d parameters) on %s%n", modelDir, bert.config().layers(),
                    bert.config().hiddenSize(), bert.layout().size(), backend.name());
            out.printf("training: %d questions -> %d windows of at most %d tokens; %d steps of %d x %d windows%s%n",
                    trainExamples.size(), features.size(), settings.maxSeqLength(), trainer.totalSteps(), settings.batchSize(), gradAccum,
                    resumed != null ? ", resuming after epoch " + resumed.epochsDone() + " (step " + resumed.step() + ")" : "");
            out.flush();
            trainer.run();
        }
        out.println("done: checkpoints, metrics.jsonl, training.png and training-dynamics.png are in " + outputDir);
        if (embedded) {
            out.println("the real thing: scripts/fetch-bert-base, then ./jbert train --model models/bert-base-uncased "
                    + "--train ../shared/data/squad/train-v1.1.json --dev ../shared/data/squad/dev-v1.1.json "
                    + "--epochs 2 --batch-size 32 --lr 3e-5 (on a GPU: --device cuda)");
        }
        out.flush();
        return 0;
    }

    private static <T> T orDefault(T value, T fallback) {
        return value != null ? value : fallback;
    }

    private static void check(TrainSettings s) {
        if (s.epochs() < 1 || s.batchSize() < 1 || s.gradAccum() < 1 || s.maxSteps() < 0 || s.limit() < 0) {
            throw new UserError("--epochs, --batch-size and --grad-accum must be at least 1; --max-steps and --limit not negative");
        }
        if (!(s.learningRate() > 0) || !(s.weightDecay() >= 0) || !(s.warmupRatio() >= 0 && s.warmupRatio() <= 1)) {
            throw new UserError("--lr must be positive, --weight-decay not negative, --warmup-ratio in [0, 1]");
        }
    }

    /** Creates the output directory and checks that it is writable, before any work. */
    static void prepareOutput(Path directory) {
        try {
            Files.createDirectories(directory);
            Path probe = Files.createTempFile(directory, ".write-test", ".tmp");
            Files.delete(probe);
        } catch (IOException | SecurityException e) {
            throw new UserError(directory + ": cannot write there (" + e.getMessage() + ")");
        }
    }
}
