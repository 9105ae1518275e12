package dev.jbert.core.cli;

import dev.jbert.core.model.Batch;
import dev.jbert.core.model.BertConfig;
import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.Dropout;
import dev.jbert.core.model.ModelDirectory;
import dev.jbert.core.train.Optimizer;
import dev.jbert.kernels.AdamW;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.OpProfiler;
import dev.jbert.kernels.cpu.CpuBackend;
import dev.jbert.kernels.cuda.CudaBackend;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code jbert bench}: the time of one training step and one eval forward of a bert-base-sized
 * model, the numbers to compare with PyTorch ({@code python/bench_torch.py} times the same).
 */
@Command(name = "bench",
        mixinStandardHelpOptions = true,
        description = {
            "Time a training step and an eval forward of a bert-base-sized model.",
            "The step is forward, loss, backward, clipping and AdamW (fp32, dropout 0.1) on random data; each",
            "time is the median of --runs runs after two warm-up runs.",
            "With --json the last line is {\"train_step_s\": .., \"eval_forward_s\": .., \"threads\": .., \"backend\": ..}",
            "(threads: the CPU threads computing; 1 on the GPU, where one host thread enqueues the work)."})
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeviceOptions deviceOptions;

    @Option(names = "--batch-size", defaultValue = "8", paramLabel = "N", description = "Sequences per batch (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--seq-len", defaultValue = "384", paramLabel = "N", description = "Tokens per sequence (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--config", paramLabel = "FILE", description = "An HF config.json (default: bert-base-uncased's).")
    Path config;

    @Option(names = "--model", paramLabel = "DIR", description = "Load these weights instead of random ones.")
    Path model;

    @Option(names = "--runs", defaultValue = "3", paramLabel = "N", description = "Timed runs of each (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--json", description = "End with one JSON line of the medians.")
    boolean json;

    @Option(names = "--profile", description = "Then time one more training step and eval forward op by op, with their page faults.")
    boolean profile;

    @Override
    public Integer call() {
        if (batchSize < 1 || seqLen < 2 || runs < 1) {
            throw new UserError("--batch-size, --runs must be at least 1 and --seq-len at least 2");
        }
        PrintWriter out = spec.commandLine().getOut();
        try (Backend device = deviceOptions.open(spec.commandLine().getErr(), true)) {
            OpProfiler profiler = profile ? new OpProfiler(device) : null;
            Backend backend = profile ? profiler.backend() : device;
            BertQa bert = load(backend);
            Batch batch = randomBatch(bert.config());
            Optimizer optimizer = new Optimizer(bert);
            AdamW settings = new AdamW(3e-5f, 0.9f, 0.999f, 1e-8f, 0.01f);
            long[] step = {0};
            Runnable trainStep = () -> {
                bert.zeroGradients();
                bert.forward(batch, new Dropout(42, step[0]++));
                bert.backward(1);
                optimizer.step(settings, 1f);
                backend.synchronize();
            };
            Runnable evalForward = () -> {
                bert.forward(batch, null);
                backend.synchronize();
            };
            out.printf("jbert bench: %s, batch %d x %d, %d layers, hidden %d%n", backend.name(), batchSize, seqLen,
                    bert.config().layers(), bert.config().hiddenSize());
            double train = median(out, "train step", trainStep);
            double eval = median(out, "eval forward", evalForward);
            out.printf("throughput    %.1f sequences/s training, %.1f sequences/s eval%n", batchSize / train, batchSize / eval);
            if (profile) {
                printProfile(out, profiler, "training step", trainStep);
                printProfile(out, profiler, "eval forward", evalForward);
            }
            Runtime runtime = Runtime.getRuntime();
            out.printf("heap used %.2f GB of %.2f GB committed; peak RSS %.2f GB%n",
                    (runtime.totalMemory() - runtime.freeMemory()) / 1e9, runtime.totalMemory() / 1e9, peakRssBytes() / 1e9);
            if (device instanceof CudaBackend cuda) {
                out.printf("GPU memory allocated by jbert: %.2f GB%n", cuda.allocatedBytes() / 1e9);
            }
            if (json) {
                int threads = device instanceof CpuBackend cpu ? cpu.threads() : 1;
                out.printf("{\"train_step_s\": %.4f, \"eval_forward_s\": %.4f, \"threads\": %d, \"backend\": \"%s\"}%n",
                        train, eval, threads, device.name());
            }
        }
        out.flush();
        return 0;
    }

    private BertQa load(Backend backend) {
        if (model != null) {
            return ModelDirectory.load(model, backend, batchSize, seqLen, 42).model();
        }
        BertConfig bertConfig = config != null ? BertConfig.read(config) : BertConfig.bertBase();
        if (seqLen > bertConfig.maxPositions()) {
            throw new UserError("--seq-len " + seqLen + " exceeds the model's " + bertConfig.maxPositions() + " positions");
        }
        return ModelDirectory.initialize(bertConfig, backend, batchSize, seqLen, 42);
    }

    /** Random ids, the second quarter onwards as the "context", every token real; answers in the context. */
    private Batch randomBatch(BertConfig bertConfig) {
        SplittableRandom random = new SplittableRandom(42);
        int n = batchSize * seqLen;
        int[] ids = new int[n];
        int[] types = new int[n];
        int[] mask = new int[n];
        Arrays.fill(mask, 1);
        for (int i = 0; i < n; i++) {
            ids[i] = random.nextInt(Math.min(1000, bertConfig.vocabSize() - 1), bertConfig.vocabSize());
            types[i] = i % seqLen >= seqLen / 4 ? 1 : 0;
        }
        int[] starts = new int[batchSize];
        int[] ends = new int[batchSize];
        for (int b = 0; b < batchSize; b++) {
            starts[b] = random.nextInt(seqLen / 4, seqLen);
            ends[b] = Math.min(seqLen - 1, starts[b] + 3);
        }
        return new Batch(batchSize, seqLen, ids, types, mask, starts, ends);
    }

    /**
     * Untimed runs first: the JIT, and the first touch of every buffer. Two, because code that runs
     * once a step (AdamW, clipping, the embeddings) reaches its final compiled form only during the
     * second: the first compilation, made halfway through the first call, has never seen a vector
     * loop's scalar tail (the last range's), so the JIT compiled it out and deoptimizes at the end
     * of that call (-Xlog:deoptimization: "unstable_if"). Until it is compiled again, its Vector
     * API code runs unintrinsified, boxing every vector on the heap.
     */
    private static final int WARM_UP_RUNS = 2;

    private double median(PrintWriter out, String what, Runnable run) {
        for (int w = 0; w < WARM_UP_RUNS; w++) {
            run.run();
        }
        long[] gcBefore = garbageCollections();
        double[] seconds = new double[runs];
        for (int r = 0; r < runs; r++) {
            long start = System.nanoTime();
            run.run();
            seconds[r] = (System.nanoTime() - start) / 1e9;
        }
        double[] sorted = seconds.clone();
        Arrays.sort(sorted);
        double median = runs % 2 == 1 ? sorted[runs / 2] : (sorted[runs / 2 - 1] + sorted[runs / 2]) / 2;
        StringBuilder all = new StringBuilder();
        for (double s : seconds) {
            all.append(String.format(" %.2f", s));
        }
        long[] gcAfter = garbageCollections();
        // a step allocates nothing, so collections here mean boxed vectors: code the JIT has not
        // (or not fully) compiled; their pauses are inside the times above
        out.printf("%-13s median %.3f s  (runs:%s; GC: %d collections, %.2f s)%n", what, median, all,
                gcAfter[0] - gcBefore[0], (gcAfter[1] - gcBefore[1]) / 1e3);
        out.flush();
        return median;
    }

    /** Collections so far and their total time in milliseconds, over every collector of this JVM. */
    private static long[] garbageCollections() {
        long count = 0, millis = 0;
        for (GarbageCollectorMXBean collector : ManagementFactory.getGarbageCollectorMXBeans()) {
            count += Math.max(0, collector.getCollectionCount());
            millis += Math.max(0, collector.getCollectionTime());
        }
        return new long[] {count, millis};
    }

    /** One run of {@code work}, op by op, and the page faults it took. */
    private static void printProfile(PrintWriter out, OpProfiler profiler, String what, Runnable work) {
        long[] faultsBefore = pageFaults();
        long start = System.nanoTime();
        profiler.record(work);
        double total = (System.nanoTime() - start) / 1e9;
        long[] faultsAfter = pageFaults();
        out.printf("profile of one %s: %.3f s, %d minor and %d major page faults%n", what, total,
                faultsAfter[0] - faultsBefore[0], faultsAfter[1] - faultsBefore[1]);
        out.printf("  %-40s %8s %10s %7s%n", "op", "calls", "seconds", "share");
        for (OpProfiler.Entry entry : profiler.entries()) {
            out.printf("  %-40s %8d %10.3f %6.1f%%%n", entry.op(), entry.calls(), entry.nanos() / 1e9,
                    100 * entry.nanos() / 1e9 / total);
        }
    }

    /** Minor and major page faults of this process so far (fields 10 and 12 of /proc/self/stat). */
    private static long[] pageFaults() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return new long[] {Long.parseLong(fields[7]), Long.parseLong(fields[9])};
        } catch (IOException | RuntimeException e) {
            return new long[] {0, 0};
        }
    }

    /** The process's peak resident set (VmHWM), or -1 where /proc is missing. */
    private static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return -1;
    }
}
