package dev.jbert.kernels.reference;

import dev.jbert.kernels.AdamW;
import dev.jbert.kernels.ArgumentChecks;
import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import dev.jbert.kernels.MatrixLayout;
import java.util.Arrays;

/**
 * The reference ops as a whole backend, computing in double: a model built on this backend runs
 * every op through the plain loops of this package, in double precision. It is slow and meant for
 * tiny models: a whole-model gradient check by finite differences needs double, and a suspicion
 * about a fast backend can be settled by running the same model here.
 *
 * <p>Buffers hold doubles; {@link #copyIn(float[], Buffer)} widens and {@link #copyOut(Buffer, float[])}
 * rounds. {@link #values(Buffer)} gives tests the doubles themselves.
 */
public final class ReferenceBackend implements Backend {

    /** A window of a double[] or int[]. */
    private record RefBuffer(double[] doubles, int[] ints, int offset, int length) implements Buffer {
        @Override
        public Type type() {
            return doubles != null ? Type.FLOAT32 : Type.INT32;
        }

        @Override
        public Buffer slice(int sliceOffset, int sliceLength) {
            if (sliceOffset < 0 || sliceLength < 0 || sliceOffset > length - sliceLength) {
                throw new IndexOutOfBoundsException("slice [" + sliceOffset + ", +" + sliceLength + ") of " + length);
            }
            return new RefBuffer(doubles, ints, offset + sliceOffset, sliceLength);
        }
    }

    @Override
    public String name() {
        return "reference (double)";
    }

    @Override
    public long memoryCapacity() {
        return Runtime.getRuntime().maxMemory();
    }

    /** The doubles a float buffer holds, copied. */
    public double[] values(Buffer buffer) {
        RefBuffer b = (RefBuffer) buffer;
        return Arrays.copyOfRange(b.doubles(), b.offset(), b.offset() + b.length());
    }

    /** Sets a float buffer's doubles. */
    public void setValues(Buffer buffer, double[] values) {
        RefBuffer b = (RefBuffer) buffer;
        if (values.length != b.length()) {
            throw new IllegalArgumentException(values.length + " values for a buffer of " + b.length());
        }
        System.arraycopy(values, 0, b.doubles(), b.offset(), values.length);
    }

    private static int[] ints(Buffer buffer) {
        RefBuffer b = (RefBuffer) buffer;
        return Arrays.copyOfRange(b.ints(), b.offset(), b.offset() + b.length());
    }

    // ---- memory ----------------------------------------------------------------------------------

    @Override
    public Buffer allocateFloats(int length) {
        return new RefBuffer(new double[length], null, 0, length);
    }

    @Override
    public Buffer allocateInts(int length) {
        return new RefBuffer(null, new int[length], 0, length);
    }

    @Override
    public void copyIn(float[] source, Buffer target) {
        double[] values = new double[source.length];
        for (int i = 0; i < values.length; i++) {
            values[i] = source[i];
        }
        setValues(target, values);
    }

    @Override
    public void copyIn(int[] source, Buffer target) {
        RefBuffer b = (RefBuffer) target;
        if (source.length != b.length()) {
            throw new IllegalArgumentException(source.length + " values for a buffer of " + b.length());
        }
        System.arraycopy(source, 0, b.ints(), b.offset(), source.length);
    }

    @Override
    public void copyOut(Buffer source, float[] target) {
        double[] values = values(source);
        if (values.length != target.length) {
            throw new IllegalArgumentException(values.length + " values into an array of " + target.length);
        }
        for (int i = 0; i < values.length; i++) {
            target[i] = (float) values[i];
        }
    }

    @Override
    public void copyOut(Buffer source, int[] target) {
        int[] values = ints(source);
        System.arraycopy(values, 0, target, 0, target.length);
    }

    @Override
    public void copy(Buffer source, Buffer target) {
        setValues(target, values(source));
    }

    @Override
    public void fill(Buffer target, float value) {
        double[] values = new double[target.length()];
        Arrays.fill(values, value);
        setValues(target, values);
    }

    @Override
    public void synchronize() {
    }

    @Override
    public void close() {
    }

    // ---- ops: copy the operands out, run the reference, copy the results back -------------------

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, Buffer a, Buffer b,
                     float beta, Buffer c) {
        gemmBatched(transA, transB, m, n, k, alpha, a, b, beta, c, 1);
    }

    @Override
    public void gemmBatched(boolean transA, boolean transB, int m, int n, int k, float alpha,
                            Buffer a, MatrixLayout aLayout, Buffer b, MatrixLayout bLayout,
                            float beta, Buffer c, MatrixLayout cLayout, int batch) {
        ArgumentChecks.batchedGemm(transA, transB, m, n, k, a, aLayout, b, bLayout, c, cLayout, batch);
        double[] result = values(c);
        ReferenceGemm.gemmBatched(transA, transB, m, n, k, alpha, values(a), aLayout, values(b), bLayout, beta, result,
                cLayout, batch);
        setValues(c, result);
    }

    @Override
    public void addBias(Buffer x, Buffer bias, int rows, int cols) {
        double[] result = values(x);
        ReferenceElementwise.addBias(result, values(bias), rows, cols);
        setValues(x, result);
    }

    @Override
    public void biasBackward(Buffer dy, Buffer dBias, int rows, int cols) {
        double[] result = values(dBias);
        ReferenceElementwise.biasBackward(values(dy), result, rows, cols);
        setValues(dBias, result);
    }

    @Override
    public void add(Buffer a, Buffer b, Buffer out) {
        double[] result = new double[out.length()];
        ReferenceElementwise.add(values(a), values(b), result);
        setValues(out, result);
    }

    @Override
    public void subtract(Buffer a, Buffer b, Buffer out) {
        double[] result = new double[out.length()];
        ReferenceElementwise.subtract(values(a), values(b), result);
        setValues(out, result);
    }

    @Override
    public void swapMiddleAxes(Buffer x, Buffer y, int d0, int d1, int d2, int d3) {
        double[] result = new double[y.length()];
        ReferenceElementwise.swapMiddleAxes(values(x), result, d0, d1, d2, d3);
        setValues(y, result);
    }

    @Override
    public void geluForward(Buffer x, Buffer y) {
        double[] result = new double[y.length()];
        ReferenceGelu.geluForward(values(x), result);
        setValues(y, result);
    }

    @Override
    public void geluBackward(Buffer x, Buffer dy, Buffer dx) {
        double[] result = new double[dx.length()];
        ReferenceGelu.geluBackward(values(x), values(dy), result);
        setValues(dx, result);
    }

    @Override
    public void dropout(Buffer x, Buffer y, float p, long seed, long stream) {
        double[] result = new double[y.length()];
        ReferenceElementwise.dropout(values(x), result, p, seed, stream);
        setValues(y, result);
    }

    @Override
    public void layerNormForward(Buffer x, Buffer gamma, Buffer beta, Buffer y, Buffer mean, Buffer rstd,
                                 int rows, int cols, float eps) {
        double[] out = new double[y.length()];
        double[] means = new double[rows];
        double[] rstds = new double[rows];
        ReferenceLayerNorm.layerNormForward(values(x), values(gamma), values(beta), out, means, rstds, rows, cols, eps);
        setValues(y, out);
        setValues(mean, means);
        setValues(rstd, rstds);
    }

    @Override
    public void layerNormBackward(Buffer dy, Buffer x, Buffer gamma, Buffer mean, Buffer rstd, Buffer dx,
                                  Buffer dGamma, Buffer dBeta, int rows, int cols) {
        double[] dxs = new double[dx.length()];
        double[] dGammas = values(dGamma);
        double[] dBetas = values(dBeta);
        ReferenceLayerNorm.layerNormBackward(values(dy), values(x), values(gamma), values(mean), values(rstd),
                dxs, dGammas, dBetas, rows, cols);
        setValues(dx, dxs);
        setValues(dGamma, dGammas);
        setValues(dBeta, dBetas);
    }

    @Override
    public void attentionSoftmaxForward(Buffer scores, Buffer mask, Buffer probs, int batch, int heads, int tokens,
                                        float scale) {
        double[] result = new double[probs.length()];
        ReferenceAttentionSoftmax.attentionSoftmaxForward(values(scores), ints(mask), result, batch, heads, tokens, scale);
        setValues(probs, result);
    }

    @Override
    public void attentionSoftmaxBackward(Buffer probs, Buffer dProbs, Buffer dScores, int batch, int heads,
                                         int tokens, float scale) {
        double[] result = new double[dScores.length()];
        ReferenceAttentionSoftmax.attentionSoftmaxBackward(values(probs), values(dProbs), result, batch, heads,
                tokens, scale);
        setValues(dScores, result);
    }

    @Override
    public void embeddingForward(Buffer ids, Buffer table, Buffer out, int rows, int dim, boolean accumulate) {
        double[] result = values(out);
        ReferenceEmbedding.embeddingForward(ints(ids), values(table), result, rows, dim, accumulate);
        setValues(out, result);
    }

    @Override
    public void embeddingBackward(Buffer ids, Buffer dOut, Buffer dTable, int rows, int dim) {
        double[] result = values(dTable);
        ReferenceEmbedding.embeddingBackward(ints(ids), values(dOut), result, rows, dim);
        setValues(dTable, result);
    }

    @Override
    public void crossEntropyForward(Buffer logits, Buffer targets, Buffer probs, Buffer losses, int rows,
                                    int classes) {
        double[] p = new double[probs.length()];
        double[] l = new double[losses.length()];
        ReferenceCrossEntropy.crossEntropyForward(values(logits), ints(targets), p, l, rows, classes);
        setValues(probs, p);
        setValues(losses, l);
    }

    @Override
    public void crossEntropyBackward(Buffer probs, Buffer targets, Buffer dLogits, int rows, int classes,
                                     float dLoss) {
        double[] result = new double[dLogits.length()];
        ReferenceCrossEntropy.crossEntropyBackward(values(probs), ints(targets), result, rows, classes, dLoss);
        setValues(dLogits, result);
    }

    @Override
    public void adamW(Buffer params, Buffer grads, Buffer m, Buffer v, AdamW settings, int step) {
        double[] p = values(params);
        double[] ms = values(m);
        double[] vs = values(v);
        ReferenceOptimizer.adamW(p, values(grads), ms, vs, settings.learningRate(), settings.beta1(),
                settings.beta2(), settings.epsilon(), settings.weightDecay(), step);
        setValues(params, p);
        setValues(m, ms);
        setValues(v, vs);
    }

    @Override
    public void sumOfSquares(Buffer x, Buffer result) {
        setValues(result, new double[] {ReferenceOptimizer.sumOfSquares(values(x))});
    }

    @Override
    public void clipByGlobalNorm(Buffer x, Buffer sumOfSquares, float maxNorm) {
        double[] result = values(x);
        ReferenceOptimizer.clipByGlobalNorm(result, values(sumOfSquares)[0], maxNorm);
        setValues(x, result);
    }
}
