package dev.jbert.kernels;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where the time goes: wraps a backend so that, during {@link #record}, every op is timed, by op
 * name. There each op is followed by {@link Backend#synchronize()}, so an asynchronous backend is
 * timed truly (and runs slower); outside it, ops pass straight through, unsynchronized, so the
 * same model can be timed as usual before it is profiled. (Until 2026-11-27, `bench --profile`
 * synchronized every op of its timed steps too, which made the GPU's step look 15-25% slower.)
 */
public final class OpProfiler {
    /** Time and calls of one op. */
    public record Entry(String op, long calls, long nanos) {}

    private final Map<String, long[]> totals = new TreeMap<>(); // op -> {calls, nanos}
    private final Backend profiled;
    private boolean recording;

    public OpProfiler(Backend backend) {
        InvocationHandler handler = (proxy, method, args) -> invoke(backend, method, args);
        this.profiled = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, handler);
    }

    /** The backend to hand to the model. */
    public Backend backend() {
        return profiled;
    }

    /** Runs {@code work} with every op timed, after forgetting the times of earlier records. */
    public void record(Runnable work) {
        totals.clear();
        recording = true;
        try {
            work.run();
        } finally {
            recording = false;
        }
    }

    private Object invoke(Backend backend, Method method, Object[] args) throws Throwable {
        boolean timed = recording;
        long start = System.nanoTime();
        try {
            Object result = method.invoke(backend, args);
            if (timed) {
                backend.synchronize();
            }
            return result;
        } catch (InvocationTargetException e) {
            throw e.getCause();
        } finally {
            if (timed) {
                long[] total = totals.computeIfAbsent(opName(method, args), name -> new long[2]);
                total[0]++;
                total[1] += System.nanoTime() - start;
            }
        }
    }

    /** The method's name; for GEMMs also the transposes and the shape, which differ by orders of magnitude. */
    private static String opName(Method method, Object[] args) {
        String name = method.getName();
        if (name.startsWith("linear")) { // linearForward and linearBackward end with rows, out, in
            int n = args.length;
            return String.format("%s %dx%dx%d", name, args[n - 3], args[n - 2], args[n - 1]);
        }
        if (!name.startsWith("gemm")) {
            return name;
        }
        String batch = name.equals("gemmBatched") ? " x" + args[args.length - 1] : ""; // the batch comes last
        return String.format("%s %s%s %dx%dx%d%s", name, (Boolean) args[0] ? "T" : "N", (Boolean) args[1] ? "T" : "N",
                args[2], args[3], args[4], batch);
    }

    /** Every op of the last record, most time first. */
    public List<Entry> entries() {
        List<Entry> entries = new ArrayList<>();
        totals.forEach((op, total) -> entries.add(new Entry(op, total[0], total[1])));
        entries.sort((a, b) -> Long.compare(b.nanos(), a.nanos()));
        return entries;
    }
}
