package dev.jbert.bench;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.HuggingFaceBert;
import dev.jbert.tokenizer.SquadPairs;
import dev.jbert.tokenizer.Truncation;
import dev.jbert.tokenizer.Window;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Encoding every SQuAD v1.1 dev pair (10,570) at run_qa's 384/128 windows, on one thread: jbert
 * against Hugging Face's Rust tokenizer (through DJL) in the same JVM. One operation is the whole dev
 * set, so the score divided by 10,570 is the time per pair. Both produce ids, type ids and offsets
 * for every window. The goal is at least 3x HF's throughput.
 *
 * <p>The dev file is {@code ../shared/data/squad/dev-v1.1.json} from the repository root, or
 * {@code -Djbert.squad.dev=FILE}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 5)
@Measurement(iterations = 5, time = 5)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class TokenizerBenchmark {
    static final Truncation RUN_QA = new Truncation(384, 128);

    List<String> questions, contexts;
    BertTokenizer jbert;
    HuggingFaceTokenizer huggingFace;

    @Setup(Level.Trial)
    public void setUp() {
        SquadPairs dev = SquadPairs.read(Path.of(System.getProperty("jbert.squad.dev", "../shared/data/squad/dev-v1.1.json")));
        questions = dev.questions().stream().map(String::stripLeading).toList();  // as run_qa does
        contexts = dev.contexts();
        jbert = BertTokenizer.bertBaseUncased();
        huggingFace = HuggingFaceBert.tokenizer(jbert.vocab(), RUN_QA, true);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        huggingFace.close();
    }

    @Benchmark
    public void jbert(Blackhole blackhole) {
        for (int i = 0; i < questions.size(); i++) {
            for (Window window : jbert.encodePair(questions.get(i), contexts.get(i), RUN_QA)) blackhole.consume(window);
        }
    }

    @Benchmark
    public void huggingFace(Blackhole blackhole) {
        for (int i = 0; i < questions.size(); i++) {
            Encoding encoding = huggingFace.encode(questions.get(i), contexts.get(i));
            blackhole.consume(encoding.getCharTokenSpans());
            blackhole.consume(encoding.getOverflowing());
        }
    }
}
