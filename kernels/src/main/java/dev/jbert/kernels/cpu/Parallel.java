package dev.jbert.kernels.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The one way the CPU backend uses more than one core: {@code parallelFor(count, body)} runs
 * {@code body(i)} for every {@code i} in {@code [0, count)} on a small fixed pool, and returns when
 * all are done.
 *
 * <p>why not a ForkJoinPool: a training step makes thousands of calls, many of them only tens of
 * microseconds long, so the workers are kept hot (they spin briefly, then park) and the calling
 * thread takes a share of the work itself. Indices are handed out one at a time from a shared
 * counter, so a core slowed by a noisy neighbour simply takes fewer of them.
 *
 * <p>Results must not depend on which thread ran which index: a reduction writes one partial per
 * index and the caller adds the partials in index order, so sums are identical for every thread
 * count. A {@code parallelFor} inside a body runs serially on the calling thread.
 */
public final class Parallel implements AutoCloseable {
    private static final int SPIN_ITERATIONS = 20_000;

    private final int threads;
    private final Thread[] workers;
    private final Object callLock = new Object();
    private final ThreadLocal<Boolean> insideBody = ThreadLocal.withInitial(() -> false);

    // the current call: published by incrementing generation after these are set
    private IntConsumer body;
    private int count;
    private final AtomicInteger nextIndex = new AtomicInteger();
    private final AtomicInteger runningWorkers = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile long generation;
    private volatile Thread caller;
    private volatile boolean closed;

    /** A pool of {@code threads} threads in all, the caller included. */
    public Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int w = 0; w < workers.length; w++) {
            workers[w] = Thread.ofPlatform().daemon().name("jbert-cpu-" + (w + 1)).unstarted(this::workerLoop);
            workers[w].start();
        }
    }

    /** The thread count from {@code -Djbert.threads}, else one per available core. */
    public static int defaultThreads() {
        String property = System.getProperty("jbert.threads");
        if (property == null || property.isBlank()) {
            return Runtime.getRuntime().availableProcessors();
        }
        int threads = Integer.parseInt(property.strip());
        if (threads < 1) {
            throw new IllegalArgumentException("-Djbert.threads must be at least 1, got " + threads);
        }
        return threads;
    }

    public int threads() {
        return threads;
    }

    /** Runs {@code body(i)} for {@code i = 0 .. count-1}, in any order, and waits for all of them. */
    public void parallelFor(int count, IntConsumer body) {
        if (count <= 0) {
            return;
        }
        if (count == 1 || workers.length == 0 || insideBody.get()) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        synchronized (callLock) {
            if (closed) {
                throw new IllegalStateException("Parallel pool is closed");
            }
            this.body = body;
            this.count = count;
            this.caller = Thread.currentThread();
            failure.set(null);
            nextIndex.set(0);
            runningWorkers.set(workers.length);
            generation++; // volatile write: publishes the fields above to the workers
            for (Thread worker : workers) {
                LockSupport.unpark(worker);
            }
            runShare();
            awaitWorkers();
            this.body = null;
            Throwable thrown = failure.get();
            if (thrown instanceof RuntimeException e) {
                throw e;
            }
            if (thrown instanceof Error e) {
                throw e;
            }
        }
    }

    /** A body over a range of indices {@code [start, end)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    /**
     * Splits {@code [0, length)} into consecutive ranges of {@code grain} indices (the last one
     * shorter) and runs them in parallel. The ranges depend on {@code grain} only, never on the
     * thread count, so a reduction that keeps one partial per range is reproducible.
     */
    public void parallelForRanges(int length, int grain, RangeBody body) {
        int ranges = (int) ((length + (long) grain - 1) / grain);
        parallelFor(ranges, range -> {
            int start = range * grain;
            body.run(start, Math.min(length, start + grain));
        });
    }

    private void runShare() {
        insideBody.set(true);
        try {
            for (int i = nextIndex.getAndIncrement(); i < count; i = nextIndex.getAndIncrement()) {
                body.accept(i);
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
            nextIndex.set(count); // the others stop taking work
        } finally {
            insideBody.set(false);
        }
    }

    private void awaitWorkers() {
        for (int spin = 0; runningWorkers.get() != 0; spin++) {
            if (spin < SPIN_ITERATIONS) {
                Thread.onSpinWait();
            } else {
                LockSupport.park(this);
            }
        }
    }

    private void workerLoop() {
        long seen = 0;
        while (true) {
            for (int spin = 0; generation == seen && !closed; spin++) {
                if (spin < SPIN_ITERATIONS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            if (closed) {
                return;
            }
            seen = generation;
            runShare();
            if (runningWorkers.decrementAndGet() == 0) {
                LockSupport.unpark(caller);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread worker : workers) {
            LockSupport.unpark(worker);
        }
    }
}
