package dev.jbert.core.train;

import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.ParameterLayout;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import java.util.List;

/**
 * How each part of the model learns, measured on the steps that write a line to metrics.jsonl:
 * for each parameter group of {@link ParameterLayout#groups()} (the embeddings, every encoder
 * layer, the QA head), the gradient norm before clipping, and the update ratio
 * {@code ||w_after - w_before|| / ||w_before||} of the optimizer step. A layer whose ratio sits
 * far above the others' is moving fast for its size; one far below is barely learning.
 *
 * <p>All of it runs as backend ops on slices of the flat buffers (one per group, as the groups are
 * contiguous), with one copy-out at the end. The optimizer calls it only when asked to: a step
 * that logs nothing does none of this. The price is memory: a scratch copy of the parameters,
 * allocated once.
 */
public final class LayerDynamics {
    /** What one step measured: per group (same order as {@code groups}), the gradient norm and the update ratio. */
    public record Measurement(List<String> groups, double[] gradNorms, double[] updateRatios) {}

    private final Backend backend;
    private final List<ParameterLayout.Group> groups;
    private final Buffer before;       // [parameters] the parameters before the step, then the step's change
    private final Buffer sumsOfSquares; // [3, groups]: gradients, parameters before the step, change

    public LayerDynamics(BertQa model) {
        this.backend = model.backend();
        this.groups = model.layout().groups();
        this.before = backend.allocateFloats(model.layout().size());
        this.sumsOfSquares = backend.allocateFloats(3 * groups.size());
    }

    /** Before clipping and AdamW: the gradient and parameter norms, and the parameters kept for the change. */
    void beforeStep(Buffer parameters, Buffer gradients) {
        sumPerGroup(gradients, 0);
        sumPerGroup(parameters, 1);
        backend.copy(parameters, before);
    }

    /** After AdamW: the change of each group. */
    void afterStep(Buffer parameters) {
        backend.subtract(parameters, before, before);
        sumPerGroup(before, 2);
    }

    /** {@code sumsOfSquares[row, g]} = sum of squares of group g of {@code flat}. */
    private void sumPerGroup(Buffer flat, int row) {
        for (int g = 0; g < groups.size(); g++) {
            ParameterLayout.Group group = groups.get(g);
            backend.sumOfSquares(flat.slice(group.offset(), group.size()), sumsOfSquares.slice(row * groups.size() + g, 1));
        }
    }

    /** The last step's measurement (waits for the device). */
    public Measurement read() {
        int n = groups.size();
        float[] sums = new float[3 * n];
        backend.copyOut(sumsOfSquares, sums);
        double[] gradNorms = new double[n];
        double[] updateRatios = new double[n];
        for (int g = 0; g < n; g++) {
            gradNorms[g] = Math.sqrt(sums[g]);
            updateRatios[g] = Math.sqrt(sums[2 * n + g]) / Math.sqrt(sums[n + g]);
        }
        return new Measurement(groups.stream().map(ParameterLayout.Group::name).toList(), gradNorms, updateRatios);
    }
}
