package dev.jbert.core.model;

import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import dev.jbert.kernels.MatrixLayout;
import java.util.Arrays;

/**
 * {@code BertForQuestionAnswering}: embeddings, N post-LayerNorm encoder layers, and a linear head
 * that scores every token as the answer's start and end. The forward and the backward pass are
 * written out op by op on a {@link Backend}, the backward in the reverse order of the forward, over
 * buffers allocated once ({@link Activations}); there is no autograd.
 *
 * <p>Shapes: B sequences of T tokens, N = B T, C hidden, H heads of D = C / H, I intermediate.
 * The loss is Hugging Face's: {@code (CE(start) + CE(end)) / 2}, each a mean over the batch.
 *
 * <p>Use: {@link #forward} (returns the loss when the batch has labels), then {@link #backward},
 * which adds this batch's gradients to {@link #gradients()} (zero them with
 * {@link #zeroGradients()} before the first micro-batch of a step). An {@link ActivationObserver}
 * set with {@link #observe} sees every tensor as it is computed ({@code jbert trace}).
 */
public final class BertQa {
    private final Backend backend;
    private final BertConfig config;
    private final ParameterLayout layout;
    private final Weights params;
    private final Weights grads;
    private final Activations activations;
    private final float attentionScale;

    // the shape and dropout of the last forward, which the backward must match
    private Activations.Views views;
    private Batch batch;
    private Dropout dropout;
    private ActivationObserver observer; // null unless a study tool is watching
    private boolean evaluatedUnwatched;  // the last forward ran attentionEvaluation: no probabilities left in the scratch

    /** A model with zeroed parameters, sized for batches up to {@code maxBatch x maxTokens}. */
    public BertQa(Backend backend, BertConfig config, int maxBatch, int maxTokens) {
        this(backend, config, maxBatch, maxTokens, Activations.keptAttentionLayers(backend, config, maxBatch, maxTokens));
    }

    /** The same, with the attention probabilities of the first {@code keptAttentionLayers} layers kept for the backward (tests). */
    BertQa(Backend backend, BertConfig config, int maxBatch, int maxTokens, int keptAttentionLayers) {
        if (maxTokens > config.maxPositions()) {
            throw new IllegalArgumentException(maxTokens + " tokens exceed the model's "
                    + config.maxPositions() + " positions");
        }
        this.backend = backend;
        this.config = config;
        this.layout = new ParameterLayout(config);
        this.params = new Weights(layout, backend.allocateFloats(layout.size()));
        this.grads = new Weights(layout, backend.allocateFloats(layout.size()));
        this.activations = new Activations(backend, config, maxBatch, maxTokens, keptAttentionLayers,
                Activations.ARENA_FLOATS);
        this.attentionScale = (float) (1 / Math.sqrt(config.headDim()));
    }

    public Backend backend() {
        return backend;
    }

    public BertConfig config() {
        return config;
    }

    public ParameterLayout layout() {
        return layout;
    }

    public Weights parameters() {
        return params;
    }

    public Weights gradients() {
        return grads;
    }

    public int maxBatch() {
        return activations.maxBatch();
    }

    public int maxTokens() {
        return activations.maxTokens();
    }

    public void zeroGradients() {
        backend.fill(grads.all(), 0);
    }

    /** Shows every tensor of the following passes to {@code observer}; null stops. */
    public void observe(ActivationObserver observer) {
        this.observer = observer;
    }

    // ---- forward ------------------------------------------------------------------------------

    /**
     * Runs the model on a batch. With {@code dropout} null the model is in evaluation mode (no
     * dropout, as HF's {@code model.eval()}). Returns the loss, or NaN when the batch has no labels.
     */
    public float forward(Batch batch, Dropout dropout) {
        this.batch = batch;
        this.dropout = dropout;
        this.evaluatedUnwatched = dropout == null && observer == null;
        int b = batch.size();
        int t = batch.tokens();
        int n = b * t;
        int c = config.hiddenSize();
        int h = config.heads();
        int d = config.headDim();
        int i = config.intermediateSize();
        float eps = config.layerNormEps();
        Activations.Views a = activations.shape(b, t, dropout != null); // a training pass keeps attention
        this.views = a;
        upload(batch, a.inputs());

        // embeddings: word + position + token type, LayerNorm, dropout
        Weights.Embeddings e = params.embeddings();
        backend.embeddingForward(a.inputs().inputIds(), e.word(), a.embeddingSum(), n, c, false);
        backend.embeddingForward(a.inputs().positionIds(), e.position(), a.embeddingSum(), n, c, true);
        backend.embeddingForward(a.inputs().tokenTypeIds(), e.tokenType(), a.embeddingSum(), n, c, true);
        tap("embeddingSum", -1, a.embeddingSum(), "B T C");
        backend.layerNormForward(a.embeddingSum(), e.normGamma(), e.normBeta(), a.embeddingNorm(),
                a.embeddingMean(), a.embeddingRstd(), n, c, eps);
        tapLayerNorm("embeddingNorm", "embedding", -1, a.embeddingNorm(), a.embeddingMean(), a.embeddingRstd());
        dropoutOrCopy(a.embeddingNorm(), a.embeddingOutput(), config.hiddenDropout(),
                dropout == null ? 0 : dropout.embeddings());
        tap("embeddingOutput", -1, a.embeddingOutput(), "B T C");

        Buffer x = a.embeddingOutput();
        for (int layer = 0; layer < config.layers(); layer++) {
            Weights.Layer w = params.layers().get(layer);
            Activations.Layer l = a.layers().get(layer);

            // self-attention: Q, K and V in one GEMM, [N, 3C] = x Wqkvᵀ + bqkv, that is [B, T, 3, H, D].
            // Each (sequence, head) has its [T, D] query, key and value in there, rows 3C apart; the
            // batched products below read them in place (see headsOfQkv), B H matrices at a time
            linear(x, w.qkvWeight(), w.qkvBias(), l.qkv(), n, 3 * c, c);
            tap("qkv", layer, l.qkv(), "B T 3 H D");
            if (evaluatedUnwatched) {
                // an evaluation that nobody watches: the backend may keep each head's probabilities in
                // cache (the backward, if one follows, recomputes every layer's)
                backend.attentionEvaluation(query(l.qkv()), key(l.qkv()), value(l.qkv()), headsOfQkv(),
                        a.inputs().attentionMask(), l.context(), headsOfHidden(), a.probs(), b, h, t, d, attentionScale);
            } else if (fusedTraining()) {
                // the same three ops as below, which the backend may run one (sequence, head) at a time
                // with the dropped probabilities in cache
                backend.attentionTrainingForward(query(l.qkv()), key(l.qkv()), value(l.qkv()), headsOfQkv(),
                        a.inputs().attentionMask(), probabilitiesBuffer(l, a), a.probsDropped(), l.context(),
                        headsOfHidden(), b, h, t, d, attentionScale, config.attentionDropout(), dropout.seed(),
                        stream(layer, Dropout.ATTENTION_PROBS));
            } else {
                // into the layer's own buffer where it keeps them for the backward, else into the shared scratch
                Buffer probs = attentionProbabilities(l, a, layer, false);
                if (attentionDropoutOn()) {
                    probs = a.probsDropped();
                }
                // context = probs V per (sequence, head), written straight into [B, T, H, D] = [N, C]: the heads merged
                backend.gemmBatched(false, false, t, d, t, 1, probs, MatrixLayout.dense(t, t), value(l.qkv()), headsOfQkv(),
                        0, l.context(), headsOfHidden(), b * h);
            }
            tap("context", layer, l.context(), "B T C");
            // output projection, dropout, residual, LayerNorm
            linear(l.context(), w.attentionOutWeight(), w.attentionOutBias(), a.dense(), n, c, c);
            hiddenDropout(a.dense(), layer, Dropout.ATTENTION_OUTPUT);
            tap("dense (attention)", layer, a.dense(), "B T C");
            backend.add(a.dense(), x, l.attentionSum());
            tap("attentionSum", layer, l.attentionSum(), "B T C");
            backend.layerNormForward(l.attentionSum(), w.attentionNormGamma(), w.attentionNormBeta(),
                    l.attentionNorm(), l.attentionMean(), l.attentionRstd(), n, c, eps);
            tapLayerNorm("attentionNorm", "attention", layer, l.attentionNorm(), l.attentionMean(), l.attentionRstd());

            // feed-forward: [N, C] -> [N, I] -> GELU -> [N, C], dropout, residual, LayerNorm
            linear(l.attentionNorm(), w.ffnInWeight(), w.ffnInBias(), l.ffnPre(), n, i, c);
            tap("ffnPre", layer, l.ffnPre(), "B T I");
            backend.geluForward(l.ffnPre(), a.ffnGelu());
            tap("ffnGelu", layer, a.ffnGelu(), "B T I");
            linear(a.ffnGelu(), w.ffnOutWeight(), w.ffnOutBias(), a.dense(), n, c, i);
            hiddenDropout(a.dense(), layer, Dropout.FFN_OUTPUT);
            tap("dense (ffn)", layer, a.dense(), "B T C");
            backend.add(a.dense(), l.attentionNorm(), l.outputSum());
            tap("outputSum", layer, l.outputSum(), "B T C");
            backend.layerNormForward(l.outputSum(), w.outputNormGamma(), w.outputNormBeta(),
                    l.output(), l.outputMean(), l.outputRstd(), n, c, eps);
            tapLayerNorm("output", "output", layer, l.output(), l.outputMean(), l.outputRstd());
            x = l.output();
        }

        // QA head: logits [N, 2], regrouped as [2, N] = start logits [B, T], then end logits [B, T]
        linear(x, params.qaHead().weight(), params.qaHead().bias(), a.logits(), n, 2, c);
        tap("logits", -1, a.logits(), "B T 2");
        backend.swapMiddleAxes(a.logits(), a.logitsByPosition(), 1, n, 2, 1);
        tap("logitsByPosition", -1, a.logitsByPosition(), "2 B T");
        if (!batch.hasLabels()) {
            return Float.NaN;
        }
        backend.crossEntropyForward(startLogits(a), a.inputs().startPositions(), a.startProbs(), a.startLosses(), b, t);
        backend.crossEntropyForward(endLogits(a), a.inputs().endPositions(), a.endProbs(), a.endLosses(), b, t);
        tap("startProbs", -1, a.startProbs(), "B T");
        tap("endProbs", -1, a.endProbs(), "B T");
        tap("startLosses", -1, a.startLosses(), "B");
        tap("endLosses", -1, a.endLosses(), "B");
        float[] start = new float[b];
        float[] end = new float[b];
        backend.copyOut(a.startLosses(), start);
        backend.copyOut(a.endLosses(), end);
        double sum = 0;
        for (int s = 0; s < b; s++) {
            sum += start[s] + end[s];
        }
        return (float) (sum / (2.0 * b));
    }

    /** The start logits of the last forward, [B, T] row-major, padding included. */
    public float[] startLogits() {
        float[] values = new float[views.logitsByPosition().length() / 2];
        backend.copyOut(startLogits(views), values);
        return values;
    }

    /** The end logits of the last forward, [B, T]. */
    public float[] endLogits() {
        float[] values = new float[views.logitsByPosition().length() / 2];
        backend.copyOut(endLogits(views), values);
        return values;
    }

    /** The buffers of the last forward, for tests and study tools in this package. */
    Activations.Views views() {
        return views;
    }

    // ---- backward -----------------------------------------------------------------------------

    /**
     * Adds the gradients of {@code lossScale * loss} of the last forward to {@link #gradients()}.
     * For gradient accumulation over k micro-batches, pass {@code 1 / k}.
     */
    public void backward(float lossScale) {
        if (batch == null || !batch.hasLabels()) {
            throw new IllegalStateException("backward needs a forward pass over a labelled batch first");
        }
        Activations.Views a = views;
        int b = batch.size();
        int t = batch.tokens();
        int n = b * t;
        int c = config.hiddenSize();
        int h = config.heads();
        int d = config.headDim();
        int i = config.intermediateSize();

        // loss = (mean CE(start) + mean CE(end)) / 2: each row's loss has weight 1 / (2B)
        float dLoss = lossScale / (2f * b);
        backend.crossEntropyBackward(a.startProbs(), a.inputs().startPositions(),
                a.dLogitsByPosition().slice(0, n), b, t, dLoss);
        backend.crossEntropyBackward(a.endProbs(), a.inputs().endPositions(),
                a.dLogitsByPosition().slice(n, n), b, t, dLoss);
        tap("dLogitsByPosition", -1, a.dLogitsByPosition(), "2 B T");
        backend.swapMiddleAxes(a.dLogitsByPosition(), a.dLogits(), 1, 2, n, 1);
        tap("dLogits", -1, a.dLogits(), "B T 2");
        Buffer lastOutput = a.layers().isEmpty() ? a.embeddingOutput() : a.layers().getLast().output();
        linearBackward(a.dLogits(), lastOutput, params.qaHead().weight(), grads.qaHead().weight(),
                grads.qaHead().bias(), a.dOutput(), false, n, 2, c);
        tapGradients("qa_outputs.", -1);
        tap("dOutput", -1, a.dOutput(), "B T C");

        Buffer dOutput = a.dOutput(); // gradient of the current layer's output
        Buffer dInput = a.dInput();   // gradient of its input, computed below
        for (int layer = config.layers() - 1; layer >= 0; layer--) {
            Weights.Layer w = params.layers().get(layer);
            Weights.Layer g = grads.layers().get(layer);
            Activations.Layer l = a.layers().get(layer);
            Buffer x = layer == 0 ? a.embeddingOutput() : a.layers().get(layer - 1).output();

            // output LayerNorm; then the residual sends dSum to attentionNorm unchanged,
            // and through the FFN branch's dropout
            backend.layerNormBackward(dOutput, l.outputSum(), w.outputNormGamma(), l.outputMean(), l.outputRstd(),
                    a.dSum(), g.outputNormGamma(), g.outputNormBeta(), n, c);
            tap("dSum (outputSum)", layer, a.dSum(), "B T C");
            dropoutOrCopy(a.dSum(), a.dDense(), config.hiddenDropout(), stream(layer, Dropout.FFN_OUTPUT));
            tap("dDense (ffn)", layer, a.dDense(), "B T C");
            // feed-forward, in reverse: dGelu = dDense W2, GELU', dAttentionNorm += dFfn W1. The GELU
            // output, which W2's gradient needs, is recomputed rather than kept (see Activations.Layer),
            // in the same pass as GELU', so W2's gradient comes after it
            linearInputGradient(a.dDense(), w.ffnOutWeight(), a.dFfn(), false, n, c, i);
            tap("dFfn (ffnGelu)", layer, a.dFfn(), "B T I");
            backend.geluForwardAndBackward(l.ffnPre(), a.ffnGelu(), a.dFfn(), a.dFfn());
            tap("ffnGelu (recomputed)", layer, a.ffnGelu(), "B T I");
            tap("dFfn (ffnPre)", layer, a.dFfn(), "B T I");
            linearParameterGradients(a.dDense(), a.ffnGelu(), g.ffnOutWeight(), g.ffnOutBias(), n, c, i);
            linearBackward(a.dFfn(), l.attentionNorm(), w.ffnInWeight(), g.ffnInWeight(), g.ffnInBias(),
                    a.dSum(), true, n, i, c);
            tap("dSum (attentionNorm)", layer, a.dSum(), "B T C");

            // attention LayerNorm; the residual sends dInput to x unchanged, and through dropout
            // to the attention output projection
            backend.layerNormBackward(a.dSum(), l.attentionSum(), w.attentionNormGamma(), l.attentionMean(),
                    l.attentionRstd(), dInput, g.attentionNormGamma(), g.attentionNormBeta(), n, c);
            tap("dInput (attentionSum)", layer, dInput, "B T C");
            dropoutOrCopy(dInput, a.dDense(), config.hiddenDropout(), stream(layer, Dropout.ATTENTION_OUTPUT));
            tap("dDense (attention)", layer, a.dDense(), "B T C");
            linearBackward(a.dDense(), l.context(), w.attentionOutWeight(), g.attentionOutWeight(),
                    g.attentionOutBias(), a.dContext(), false, n, c, c);
            tap("dContext", layer, a.dContext(), "B T C");
            // context = dropout(probs) V: dDropped = dContext Vᵀ, dV = dropout(probs)ᵀ dContext, with the
            // heads of dContext [B, T, H, D] read in place and dV written into dQkv [B, T, 3, H, D]. The
            // probabilities are the layer's own where it kept them; the last layer's are still in the
            // scratch, unless the forward was an unwatched evaluation (attentionEvaluation need not write
            // them); the others' are recomputed from Q and K (bitwise the forward's: the same ops on the
            // same inputs)
            Buffer probs = kept(l) != null ? kept(l)
                    : layer == config.layers() - 1 && !evaluatedUnwatched ? a.probs()
                    : attentionProbabilities(l, a, layer, true);
            if (fusedTraining()) {
                // the five ops below, which the backend may run one (sequence, head) at a time in cache
                backend.attentionTrainingBackward(query(l.qkv()), key(l.qkv()), value(l.qkv()), headsOfQkv(), probs,
                        l.context(), a.dContext(), headsOfHidden(), query(a.dQkv()), key(a.dQkv()), value(a.dQkv()),
                        a.dScores(), a.probsDropped(), b, h, t, d, attentionScale, config.attentionDropout(),
                        dropout.seed(), stream(layer, Dropout.ATTENTION_PROBS));
            } else {
                MatrixLayout scores = MatrixLayout.dense(t, t);
                backend.gemmBatched(false, true, t, t, d, 1, a.dContext(), headsOfHidden(), value(l.qkv()), headsOfQkv(),
                        0, a.dScores(), scores, b * h);
                tap("dScores (probsDropped)", layer, a.dScores(), "B H T T");
                // back through the attention dropout (the same mask, drawn again into probsDropped for dV) and
                // the softmax (scale included)
                Buffer dropped = probs;
                if (!attentionDropoutOn()) {
                    backend.attentionSoftmaxBackward(probs, a.dScores(), a.dScores(), b, h, t, attentionScale);
                } else {
                    dropped = a.probsDropped();
                    backend.attentionDropoutSoftmaxBackward(probs, a.dScores(), dropped, a.dScores(), b, h, t,
                            attentionScale, config.attentionDropout(), dropout.seed(), stream(layer, Dropout.ATTENTION_PROBS));
                    tap("probsDropped", layer, dropped, "B H T T");
                }
                backend.gemmBatched(true, false, t, d, t, 1, dropped, scores, a.dContext(), headsOfHidden(),
                        0, value(a.dQkv()), headsOfQkv(), b * h);
                tap("dScores", layer, a.dScores(), "B H T T");
                // scores = Q Kᵀ: dQ = dScores K, dK = dScoresᵀ Q, into dQkv beside dV
                backend.gemmBatched(false, false, t, d, t, 1, a.dScores(), scores, key(l.qkv()), headsOfQkv(),
                        0, query(a.dQkv()), headsOfQkv(), b * h);
                backend.gemmBatched(true, false, t, d, t, 1, a.dScores(), scores, query(l.qkv()), headsOfQkv(),
                        0, key(a.dQkv()), headsOfQkv(), b * h);
            }
            tap("dQkv", layer, a.dQkv(), "B T 3 H D");
            // through the QKV projection; dInput already holds the residual's share, so the projection's is added
            linearBackward(a.dQkv(), x, w.qkvWeight(), g.qkvWeight(), g.qkvBias(), dInput, true, n, 3 * c, c);
            tap("dInput", layer, dInput, "B T C");
            tapGradients(ParameterLayout.layerPrefix(layer), layer);

            Buffer swap = dOutput; // this layer's input is the previous layer's output
            dOutput = dInput;
            dInput = swap;
        }

        // embeddings: dropout, LayerNorm, then scatter-add into the three tables
        Weights.Embeddings e = params.embeddings();
        Weights.Embeddings ge = grads.embeddings();
        dropoutOrCopy(dOutput, a.dSum(), config.hiddenDropout(), dropout == null ? 0 : dropout.embeddings());
        tap("dSum (embeddingNorm)", -1, a.dSum(), "B T C");
        backend.layerNormBackward(a.dSum(), a.embeddingSum(), e.normGamma(), a.embeddingMean(), a.embeddingRstd(),
                dInput, ge.normGamma(), ge.normBeta(), n, c);
        tap("dInput (embeddingSum)", -1, dInput, "B T C");
        backend.embeddingBackward(a.inputs().inputIds(), dInput, ge.word(), n, c);
        backend.embeddingBackward(a.inputs().positionIds(), dInput, ge.position(), n, c);
        backend.embeddingBackward(a.inputs().tokenTypeIds(), dInput, ge.tokenType(), n, c);
        tapGradients("bert.embeddings.", -1);
    }

    // ---- observing ------------------------------------------------------------------------------

    /** Shows {@code values}, whose dimensions are {@code axes} (e.g. "B H T T"), to the observer, if any. */
    private void tap(String name, int layer, Buffer values, String axes) {
        if (observer != null) {
            observer.observe(name, layer, values, sizes(axes), axes);
        }
    }

    /** A LayerNorm's output, and the per-token mean and 1 / std ({@code stats}Mean, Rstd) kept for the backward. */
    private void tapLayerNorm(String name, String stats, int layer, Buffer norm, Buffer mean, Buffer rstd) {
        tap(name, layer, norm, "B T C");
        tap(stats + "Mean", layer, mean, "B T");
        tap(stats + "Rstd", layer, rstd, "B T");
    }

    /** The gradients of the parameters named {@code prefix}..., once the backward has finished them. */
    private void tapGradients(String prefix, int layer) {
        if (observer != null) {
            for (ParameterLayout.Tensor tensor : layout.tensors()) {
                if (tensor.name().startsWith(prefix)) {
                    observer.observe(tensor.name(), layer, grads.all().slice(tensor.offset(), tensor.size()),
                            tensor.shape().clone(), null);
                }
            }
        }
    }

    private int[] sizes(String axes) {
        return Arrays.stream(axes.split(" ")).mapToInt(axis -> switch (axis) {
            case "B" -> batch.size();
            case "T" -> batch.tokens();
            case "H" -> config.heads();
            case "D" -> config.headDim();
            case "C" -> config.hiddenSize();
            case "I" -> config.intermediateSize();
            default -> Integer.parseInt(axis);
        }).toArray();
    }

    // ---- building blocks ------------------------------------------------------------------------

    /** A Linear layer with HF's weight layout: y [rows, out] = x [rows, in] Wᵀ + bias, W [out, in]. */
    private void linear(Buffer x, Buffer weight, Buffer bias, Buffer y, int rows, int out, int in) {
        backend.linearForward(x, weight, bias, y, rows, out, in);
    }

    /**
     * The backward of {@link #linear}: dW += dyᵀ x, dBias += column sums of dy, and
     * dx = dy W (or dx += dy W when {@code accumulate}, for a residual's second branch).
     */
    private void linearBackward(Buffer dy, Buffer x, Buffer weight, Buffer dWeight, Buffer dBias, Buffer dx,
                                boolean accumulate, int rows, int out, int in) {
        backend.linearBackward(dy, x, weight, dWeight, dBias, dx, accumulate, rows, out, in);
    }

    /** dW += dyᵀ x [out, in] and dBias += column sums of dy [out]. */
    private void linearParameterGradients(Buffer dy, Buffer x, Buffer dWeight, Buffer dBias, int rows, int out, int in) {
        backend.gemm(true, false, out, in, rows, 1, dy, x, 1, dWeight);
        backend.biasBackward(dy, dBias, rows, out);
    }

    /** dx [rows, in] = dy W, or += when {@code accumulate}. */
    private void linearInputGradient(Buffer dy, Buffer weight, Buffer dx, boolean accumulate, int rows, int out, int in) {
        backend.gemm(false, false, rows, in, out, 1, dy, weight, accumulate ? 1 : 0, dx);
    }

    /**
     * One layer's attention probabilities: scores [B, H, T, T] = Q Kᵀ per (sequence, head), then the
     * masked softmax, which applies the 1/√D scale, in place; in training, in the same op, their
     * dropout into the shared {@code probsDropped}. Into the layer's own buffer where it keeps them,
     * else into the shared scratch, which the backward fills again ({@code recomputed}) with the same ops.
     */
    private Buffer attentionProbabilities(Activations.Layer l, Activations.Views a, int layer, boolean recomputed) {
        int b = batch.size();
        int t = batch.tokens();
        int h = config.heads();
        Buffer probs = probabilitiesBuffer(l, a);
        backend.gemmBatched(false, true, t, t, config.headDim(), 1, query(l.qkv()), headsOfQkv(), key(l.qkv()), headsOfQkv(),
                0, probs, MatrixLayout.dense(t, t), b * h);
        tap(recomputed ? "probs (scores, recomputed)" : "probs (scores)", layer, probs, "B H T T");
        if (attentionDropoutOn()) {
            backend.attentionSoftmaxDropoutForward(probs, a.inputs().attentionMask(), probs, a.probsDropped(), b, h, t,
                    attentionScale, config.attentionDropout(), dropout.seed(), stream(layer, Dropout.ATTENTION_PROBS));
        } else {
            backend.attentionSoftmaxForward(probs, a.inputs().attentionMask(), probs, b, h, t, attentionScale);
        }
        tap(recomputed ? "probs (recomputed)" : "probs", layer, probs, "B H T T");
        if (attentionDropoutOn() && !recomputed) {
            tap("probsDropped", layer, a.probsDropped(), "B H T T");
        }
        return probs;
    }

    /**
     * Where this layer keeps its attention probabilities for the backward: its own buffer in a training
     * pass, null in an evaluation, which writes them to the shared scratch (one buffer reused by every
     * layer, rather than as many as keep theirs).
     */
    private Buffer kept(Activations.Layer l) {
        return dropout != null ? l.probs() : null;
    }

    /** Where a forward writes layer l's attention probabilities: where it keeps them, else the shared scratch. */
    private Buffer probabilitiesBuffer(Activations.Layer l, Activations.Views a) {
        return kept(l) != null ? kept(l) : a.probs();
    }

    /**
     * Whether attention runs as the fused training ops: a training pass with attention dropout that
     * nobody watches (an observer sees the intermediate tensors of the separate ops).
     */
    private boolean fusedTraining() {
        return attentionDropoutOn() && observer == null;
    }

    /** Whether this pass drops attention probabilities: training, with a non-zero rate. */
    private boolean attentionDropoutOn() {
        return dropout != null && config.attentionDropout() > 0;
    }

    /** Dropout of a projection's output, in place; nothing in evaluation. */
    private void hiddenDropout(Buffer x, int layer, int site) {
        if (dropout != null && config.hiddenDropout() > 0) {
            backend.dropout(x, x, config.hiddenDropout(), dropout.seed(), stream(layer, site));
        }
    }

    /** y = dropout(x) in training, y = x in evaluation (a copy unless they are the same buffer). */
    private void dropoutOrCopy(Buffer x, Buffer y, float p, long stream) {
        if (dropout != null && p > 0) {
            backend.dropout(x, y, p, dropout.seed(), stream);
        } else if (x != y) {
            backend.copy(x, y);
        }
    }

    private long stream(int layer, int site) {
        return dropout == null ? 0 : dropout.layer(layer, site);
    }

    /**
     * Where attention's B H matrices of [T, D] lie in a [B, T, 3, H, D] buffer (Q, K and V, or their
     * gradients), counted from the first element of Q, K or V (see {@link #query}, {@link #key},
     * {@link #value}): rows 3C apart, the H heads of a sequence D apart, sequences T 3C apart.
     */
    private MatrixLayout headsOfQkv() {
        int c = config.hiddenSize();
        return new MatrixLayout(3 * c, config.heads(), batch.tokens() * 3 * c, config.headDim());
    }

    /** The same in a [B, T, H, D] = [N, C] buffer (the context and its gradient): rows C apart. */
    private MatrixLayout headsOfHidden() {
        int c = config.hiddenSize();
        return new MatrixLayout(c, config.heads(), batch.tokens() * c, config.headDim());
    }

    /** A [B, T, 3, H, D] buffer from Q's first element on, for {@link #headsOfQkv}; {@link #key} and {@link #value} from theirs (C and 2C in). */
    private static Buffer query(Buffer qkv) {
        return qkv; // Q's part comes first
    }

    private Buffer key(Buffer qkv) {
        int c = config.hiddenSize();
        return qkv.slice(c, qkv.length() - c);
    }

    private Buffer value(Buffer qkv) {
        int c = config.hiddenSize();
        return qkv.slice(2 * c, qkv.length() - 2 * c);
    }

    private static Buffer startLogits(Activations.Views a) {
        int n = a.logitsByPosition().length() / 2;
        return a.logitsByPosition().slice(0, n);
    }

    private static Buffer endLogits(Activations.Views a) {
        int n = a.logitsByPosition().length() / 2;
        return a.logitsByPosition().slice(n, n);
    }

    /** Copies a batch's ints to the device; position ids are 0 .. T-1 in every sequence. */
    private void upload(Batch batch, Activations.Inputs inputs) {
        int t = batch.tokens();
        int[] positions = new int[batch.size() * t];
        for (int k = 0; k < positions.length; k++) {
            positions[k] = k % t;
        }
        backend.copyIn(batch.inputIds(), inputs.inputIds());
        backend.copyIn(batch.tokenTypeIds(), inputs.tokenTypeIds());
        backend.copyIn(positions, inputs.positionIds());
        backend.copyIn(batch.attentionMask(), inputs.attentionMask());
        if (batch.hasLabels()) {
            backend.copyIn(batch.startPositions(), inputs.startPositions());
            backend.copyIn(batch.endPositions(), inputs.endPositions());
        }
    }
}
