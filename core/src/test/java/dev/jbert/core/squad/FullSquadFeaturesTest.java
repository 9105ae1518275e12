package dev.jbert.core.squad;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.Truncation;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The shared SQuAD v1.1 files end to end: read, aligned and cut into run_qa's 384/128 windows.
 * HF counts 88,524 train and 10,784 dev features on the official files. The data comes from ../shared.
 */
class FullSquadFeaturesTest {

    @ParameterizedTest
    @CsvSource({"dev-v1.1.json, 10570, 10784", "train-v1.1.json, 87599, 88524"})
    void featureCountsMatchHuggingFace(String name, int expectedExamples, int expectedFeatures) {
        Path file = Path.of(System.getProperty("jbert.shared.dir", "../../shared"), "data", "squad", name);
        if (!Files.isReadable(file)) {
            System.out.println("SKIPPED: " + file + " is absent, so full SQuAD features are not checked here (CI has it)");
            assumeTrue(false, file + " is absent");
        }
        // cpu time too: the wall clock says little on a busy machine, and all of this runs on this thread
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long wall0 = System.nanoTime(), cpu0 = threads.getCurrentThreadCpuTime();
        SquadDataset dataset = SquadReader.read(file);
        long wall1 = System.nanoTime(), cpu1 = threads.getCurrentThreadCpuTime();
        List<TrainingFeature> features = TrainingFeatures.build(dataset.examples(), BertTokenizer.bertBaseUncased(), new Truncation(384, 128));
        long wall2 = System.nanoTime(), cpu2 = threads.getCurrentThreadCpuTime();

        long cls = features.stream().filter(f -> f.startPosition() == 0).count();
        // where run_qa's start label runs past the context onto [SEP] (see TrainingFeatures.label)
        long startInLastToken = features.stream()
                .filter(f -> f.startPosition() > 0 && f.startPosition() == f.window().contextEnd() - 1).count();
        System.out.printf("%s: %s%n  %d features, %d labelled [CLS], %d starting in their window's last context token;"
                        + " read %.1f s (cpu %.1f s), features %.1f s (cpu %.1f s)%n",
                name, dataset.stats().summary(), features.size(), cls, startInLastToken,
                (wall1 - wall0) / 1e9, (cpu1 - cpu0) / 1e9, (wall2 - wall1) / 1e9, (cpu2 - cpu1) / 1e9);
        assertEquals(expectedExamples, dataset.examples().size());
        assertEquals(expectedFeatures, features.size());
    }
}
