package dev.jbert.core.train;

import dev.jbert.core.model.BertQa;
import dev.jbert.core.model.ParameterLayout;
import dev.jbert.kernels.AdamW;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import java.util.ArrayList;
import java.util.List;

/**
 * AdamW with gradient clipping, over the model's flat parameter buffer: what HF's run_qa does
 * with {@code torch.optim.AdamW} and {@code clip_grad_norm_(1.0)}. Biases and LayerNorm
 * parameters get no weight decay. The two moment buffers use the parameters' layout, so the
 * update is one fused pass per run of tensors that share a decay setting.
 */
public final class Optimizer {
    /** A stretch of the flat buffer whose tensors all do, or all do not, get weight decay. */
    private record Run(int offset, int length, boolean decay) {}

    private final BertQa model;
    private final Backend backend;
    private final List<Run> runs = new ArrayList<>();
    private final Buffer m;
    private final Buffer v;
    private final Buffer sumOfSquares;
    private int step;

    public Optimizer(BertQa model) {
        this.model = model;
        this.backend = model.backend();
        ParameterLayout layout = model.layout();
        for (ParameterLayout.Tensor tensor : layout.tensors()) {
            Run last = runs.isEmpty() ? null : runs.getLast();
            if (last != null && last.decay() == tensor.decay()) {
                runs.set(runs.size() - 1, new Run(last.offset(), last.length() + tensor.size(), last.decay()));
            } else {
                runs.add(new Run(tensor.offset(), tensor.size(), tensor.decay()));
            }
        }
        this.m = backend.allocateFloats(layout.size());
        this.v = backend.allocateFloats(layout.size());
        this.sumOfSquares = backend.allocateFloats(1);
    }

    /**
     * Clips the gradients to {@code maxGradNorm} (global L2 norm; no clipping when not positive),
     * then applies one AdamW step. Returns the gradient norm before clipping, as
     * {@code clip_grad_norm_} does.
     */
    public float step(AdamW settings, float maxGradNorm) {
        return step(settings, maxGradNorm, null);
    }

    /**
     * The same step, measuring each layer's gradient norm (before clipping) and update ratio into
     * {@code dynamics}, unless it is null. Measuring reads the buffers and changes nothing.
     */
    public float step(AdamW settings, float maxGradNorm, LayerDynamics dynamics) {
        Buffer grads = model.gradients().all();
        Buffer params = model.parameters().all();
        if (dynamics != null) {
            dynamics.beforeStep(params, grads);
        }
        backend.sumOfSquares(grads, sumOfSquares);
        if (maxGradNorm > 0) {
            backend.clipByGlobalNorm(grads, sumOfSquares, maxGradNorm);
        }
        step++;
        for (Run run : runs) {
            AdamW runSettings = run.decay() ? settings : settings.withWeightDecay(0);
            backend.adamW(params.slice(run.offset(), run.length()), grads.slice(run.offset(), run.length()),
                    m.slice(run.offset(), run.length()), v.slice(run.offset(), run.length()), runSettings, step);
        }
        if (dynamics != null) {
            dynamics.afterStep(params);
        }
        float[] norm = new float[1];
        backend.copyOut(sumOfSquares, norm);
        return (float) Math.sqrt(norm[0]);
    }

    /** Steps taken so far (AdamW's bias correction counts from 1). */
    public int steps() {
        return step;
    }

    /** The first and second moments, in the parameters' layout: for checkpoints. */
    public Buffer firstMoment() {
        return m;
    }

    public Buffer secondMoment() {
        return v;
    }

    /** Restores the step count with the moments (the caller copies them in). */
    public void restoreSteps(int steps) {
        this.step = steps;
    }
}
