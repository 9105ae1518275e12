package dev.jbert.core.model;

import dev.jbert.kernels.Backend;
import dev.jbert.kernels.Buffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Every buffer the forward and backward passes use, allocated once at the largest batch
 * ({@code maxBatch x maxTokens}), the float ones as slices of one large allocation (a few for very
 * large batches), and viewed at the current batch's exact shape.
 *
 * <p>Batches are padded only to their longest window (dynamic padding), so the token count
 * changes from step to step. {@link #shape} re-slices the same memory instead of allocating:
 * nothing is allocated inside a training step but the first, which allocates the attention
 * probabilities that layers keep for the backward (see {@link Layer}). The views are built by one method,
 * {@link #build}, run once with a counting {@link Sizer}, once with an allocating one and afterwards
 * with slicing ones, so the list of buffers is written exactly once.
 *
 * <p>Shapes: B batch, T tokens, N = B T, C hidden, H heads, D = C / H, I intermediate.
 */
final class Activations {
    /**
     * What the forward pass keeps for the backward pass of one encoder layer. The GELU output
     * ([N, I]) is not kept but recomputed by the backward from ffnPre, into scratch shared by the
     * layers. The attention probabilities ([B, H, T, T], the largest activation at long sequences)
     * are kept by as many layers as {@link #keptAttentionLayers} allows, once the model trains (an
     * evaluation never needs them: see {@link #shape}), and recomputed from Q and K by the others,
     * except the last, whose probabilities the backward finds still in the shared scratch. At
     * bert-base's batch 8 x 384 the probabilities are 57 MB a layer and cost 3% of the CPU's step to
     * recompute (a batched GEMM and a softmax); the GELU output is 38 MB a layer for 1%.
     */
    record Layer(
            Buffer qkv,               // [N, 3C] = [B, T, 3, H, D]: Q, K and V of every head
            Buffer context,           // [N, C] = [B, T, H, D]: attention's output, written by the heads in place
            Buffer attentionSum,      // [N, C] dropout(attention output) + layer input
            Buffer attentionNorm,     // [N, C] LayerNorm of it: the FFN's input
            Buffer attentionMean,     // [N]
            Buffer attentionRstd,     // [N]
            Buffer ffnPre,            // [N, I] before GELU
            Buffer outputSum,         // [N, C] dropout(FFN output) + attentionNorm
            Buffer output,            // [N, C] LayerNorm of it: the layer's output
            Buffer outputMean,        // [N]
            Buffer outputRstd,        // [N]
            Buffer probs) {}          // [B, H, T, T] the attention probabilities, or null where not kept

    /** The inputs of a batch on the device (int buffers). */
    record Inputs(
            Buffer inputIds,          // [N]
            Buffer tokenTypeIds,      // [N]
            Buffer positionIds,       // [N]: 0 .. T-1 for every sequence
            Buffer attentionMask,     // [B, T]: 1 for real tokens, 0 for padding
            Buffer startPositions,    // [B]
            Buffer endPositions) {}   // [B]

    /** Everything of one shape: stored activations, the head's outputs, and scratch. */
    record Views(
            Inputs inputs,
            Buffer embeddingSum,      // [N, C] word + position + token type
            Buffer embeddingNorm,     // [N, C] LayerNorm of it
            Buffer embeddingMean,     // [N]
            Buffer embeddingRstd,     // [N]
            Buffer embeddingOutput,   // [N, C] dropout of it: layer 0's input
            List<Layer> layers,
            Buffer logits,            // [N, 2] the QA head's output
            Buffer logitsByPosition,  // [2, N]: start logits [B, T], then end logits [B, T]
            Buffer startProbs,        // [B, T] softmax of the start logits
            Buffer endProbs,          // [B, T]
            Buffer startLosses,       // [B]
            Buffer endLosses,         // [B]
            // scratch, shared by the layers
            Buffer probs,             // [B, H, T, T] one layer's attention probabilities (the scores until the softmax)
            Buffer probsDropped,      // [B, H, T, T]
            Buffer dense,             // [N, C] a projection's output before dropout
            Buffer ffnGelu,           // [N, I] one layer's GELU output
            // gradients of activations (backward scratch)
            Buffer dOutput,           // [N, C] gradient of the current layer's output
            Buffer dInput,            // [N, C] gradient of its input
            Buffer dSum,              // [N, C]
            Buffer dDense,            // [N, C]
            Buffer dFfn,              // [N, I]
            Buffer dContext,          // [N, C] = [B, T, H, D]
            Buffer dScores,           // [B, H, T, T]
            Buffer dQkv,              // [N, 3C] = [B, T, 3, H, D]
            Buffer dLogits,           // [N, 2]
            Buffer dLogitsByPosition) {} // [2, N]

    /** Hands out buffers in a fixed order: counting them, allocating them, or slicing the ones allocated. */
    private interface Sizer {
        Buffer floats(int length);

        Buffer ints(int length);
    }

    /** Where the first pass put a float buffer: which arena, and how many floats into it. */
    private record Placement(int arena, long offset) {}

    /** The most floats in one arena (4 GB): well under the largest Java array. */
    static final long ARENA_FLOATS = 1L << 30;

    /** The share of the backend's memory that kept attention probabilities may take. */
    private static final int KEPT_ATTENTION_SHARE = 32;

    private final Backend backend;
    private final BertConfig config;
    private final int keptAttentionLayers;
    private final List<Buffer> keptStorage = new ArrayList<>(); // the kept probabilities' arenas, once training
    private final long keptSlot;     // floats a keeping layer's probabilities take in those arenas
    private final int keptPerArena;  // keeping layers per arena
    private final int maxBatch;
    private final int maxTokens;
    private final List<Buffer> storage = new ArrayList<>();
    private final int arenaCount;
    private Views views;
    private int batch = -1;
    private int tokens = -1;

    Activations(Backend backend, BertConfig config, int maxBatch, int maxTokens) {
        this(backend, config, maxBatch, maxTokens, keptAttentionLayers(backend, config, maxBatch, maxTokens), ARENA_FLOATS);
    }

    /**
     * The same with the attention probabilities of layers {@code 0 .. keptAttentionLayers - 1} kept,
     * and arenas of at most {@code arenaFloats} floats each (tests pick both).
     */
    Activations(Backend backend, BertConfig config, int maxBatch, int maxTokens, int keptAttentionLayers,
                long arenaFloats) {
        if (keptAttentionLayers < 0 || keptAttentionLayers > config.layers()) {
            throw new IllegalArgumentException("cannot keep the attention of " + keptAttentionLayers + " of "
                    + config.layers() + " layers");
        }
        this.backend = backend;
        this.config = config;
        this.keptAttentionLayers = keptAttentionLayers;
        this.keptSlot = aligned(Math.multiplyExact(Math.multiplyExact(maxBatch * config.heads(), maxTokens), maxTokens));
        this.keptPerArena = (int) Math.max(1, arenaFloats / keptSlot);
        this.maxBatch = maxBatch;
        this.maxTokens = maxTokens;
        // the float buffers are slices of a few large allocations (arenas), placed by a first pass
        // that only counts: on the CPU each would otherwise be an array of its own, and the JVM rounds
        // every large array up to whole heap regions (G1's 16 MB here), 0.6 GB of padding at
        // bert-base's 8 x 384, which fits one arena
        List<Long> arenaSizes = new ArrayList<>();
        List<Placement> placements = new ArrayList<>();
        build(new Sizer() {
            @Override
            public Buffer floats(int length) {
                long size = aligned(length);
                if (arenaSizes.isEmpty() || arenaSizes.getLast() + size > arenaFloats) {
                    arenaSizes.add(0L); // this buffer opens the next arena
                }
                int arena = arenaSizes.size() - 1;
                placements.add(new Placement(arena, arenaSizes.get(arena)));
                arenaSizes.set(arena, arenaSizes.get(arena) + size);
                return null;
            }

            @Override
            public Buffer ints(int length) {
                return null;
            }
        }, maxBatch, maxTokens);
        List<Buffer> arenas = arenaSizes.stream().map(size -> backend.allocateFloats(Math.toIntExact(size))).toList();
        this.arenaCount = arenas.size();
        Iterator<Placement> next = placements.iterator();
        this.views = build(new Sizer() {
            @Override
            public Buffer floats(int length) {
                Placement at = next.next();
                Buffer buffer = arenas.get(at.arena()).slice(Math.toIntExact(at.offset()), length);
                storage.add(buffer);
                return buffer;
            }

            @Override
            public Buffer ints(int length) {
                Buffer buffer = backend.allocateInts(length);
                storage.add(buffer);
                return buffer;
            }
        }, maxBatch, maxTokens);
        this.batch = maxBatch;
        this.tokens = maxTokens;
    }

    /**
     * How many layers keep their attention probabilities: as many as fit in a 32nd of the backend's
     * memory, the last layer not counted (it needs no copy of its own). On the CPU that share of the
     * JVM's heap is 576 MB where the heap may grow to 18 GB, 10 of bert-base's layers at batch 8 x 384;
     * on a GPU with 80 GB or more, all of them at batch 32 x 384.
     */
    static int keptAttentionLayers(Backend backend, BertConfig config, int maxBatch, int maxTokens) {
        long perLayer = 4L * maxBatch * config.heads() * maxTokens * maxTokens;
        long fit = backend.memoryCapacity() / KEPT_ATTENTION_SHARE / perLayer;
        return (int) Math.min(Math.max(0, config.layers() - 1), fit);
    }

    /** A slice's length rounded up to 64 floats (256 bytes), so that every slice starts aligned for the GPU's vector loads. */
    private static long aligned(int length) {
        return (length + 63L) / 64 * 64;
    }

    /** Every buffer at the largest shape, in allocation order (for tests). */
    List<Buffer> buffers() {
        return List.copyOf(storage);
    }

    /** How many allocations the float buffers are slices of (for tests). */
    int arenaCount() {
        return arenaCount;
    }

    int maxBatch() {
        return maxBatch;
    }

    int maxTokens() {
        return maxTokens;
    }

    /** The views for a batch of {@code batch} sequences of {@code tokens} tokens, for an evaluation. */
    Views shape(int batch, int tokens) {
        return shape(batch, tokens, false);
    }

    /**
     * The views for a batch of {@code batch} sequences of {@code tokens} tokens. The first time
     * {@code training} is true, the layers that keep their attention probabilities get their buffers
     * (allocated once, at the largest shape, like the rest): a model that only evaluates never holds them.
     */
    Views shape(int batch, int tokens, boolean training) {
        if (batch < 1 || batch > maxBatch || tokens < 1 || tokens > maxTokens) {
            throw new IllegalArgumentException("batch " + batch + " x " + tokens + " tokens exceeds the "
                    + maxBatch + " x " + maxTokens + " the model was sized for");
        }
        boolean keepNow = training && keptStorage.isEmpty() && keptAttentionLayers > 0;
        if (keepNow) {
            allocateKeptProbabilities();
        }
        if (keepNow || batch != this.batch || tokens != this.tokens) {
            int[] next = {0};
            Sizer slicer = new Sizer() {
                // the same order as the allocation: each call takes the next stored buffer's prefix
                @Override
                public Buffer floats(int length) {
                    return storage.get(next[0]++).slice(0, length);
                }

                @Override
                public Buffer ints(int length) {
                    return storage.get(next[0]++).slice(0, length);
                }
            };
            views = build(slicer, batch, tokens);
            this.batch = batch;
            this.tokens = tokens;
        }
        return views;
    }

    /** One [maxBatch, H, maxTokens, maxTokens] slot per keeping layer, in arenas of at most the cap (or one slot). */
    private void allocateKeptProbabilities() {
        for (int first = 0; first < keptAttentionLayers; first += keptPerArena) {
            int slots = Math.min(keptPerArena, keptAttentionLayers - first);
            keptStorage.add(backend.allocateFloats(Math.toIntExact(slots * keptSlot)));
        }
    }

    /** Layer {@code layer}'s kept probabilities at [b, H, t, t], or null where it keeps none (yet). */
    private Buffer keptProbabilities(int layer, int b, int t) {
        if (layer >= keptAttentionLayers || keptStorage.isEmpty()) {
            return null;
        }
        return keptStorage.get(layer / keptPerArena).slice(Math.toIntExact(layer % keptPerArena * keptSlot),
                b * config.heads() * t * t);
    }

    private Views build(Sizer s, int b, int t) {
        int n = b * t;
        int c = config.hiddenSize();
        int h = config.heads();
        int i = config.intermediateSize();
        int attention = b * h * t * t;
        Inputs inputs = new Inputs(s.ints(n), s.ints(n), s.ints(n), s.ints(n), s.ints(b), s.ints(b));
        Buffer embeddingSum = s.floats(n * c);
        Buffer embeddingNorm = s.floats(n * c);
        Buffer embeddingMean = s.floats(n);
        Buffer embeddingRstd = s.floats(n);
        Buffer embeddingOutput = s.floats(n * c);
        List<Layer> layers = new ArrayList<>();
        for (int layer = 0; layer < config.layers(); layer++) {
            layers.add(new Layer(
                    s.floats(3 * n * c), s.floats(n * c),
                    s.floats(n * c), s.floats(n * c), s.floats(n), s.floats(n),
                    s.floats(n * i),
                    s.floats(n * c), s.floats(n * c), s.floats(n), s.floats(n),
                    keptProbabilities(layer, b, t)));
        }
        return new Views(inputs, embeddingSum, embeddingNorm, embeddingMean, embeddingRstd, embeddingOutput,
                List.copyOf(layers),
                s.floats(2 * n), s.floats(2 * n), s.floats(n), s.floats(n), s.floats(b), s.floats(b),
                s.floats(attention), s.floats(attention), s.floats(n * c),
                s.floats(n * i), s.floats(n * c), s.floats(n * c), s.floats(n * c), s.floats(n * c), s.floats(n * i),
                s.floats(n * c), s.floats(attention), s.floats(3 * n * c),
                s.floats(2 * n), s.floats(2 * n));
    }
}
