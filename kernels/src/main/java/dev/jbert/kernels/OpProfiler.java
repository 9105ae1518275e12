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
 * Where the time goes: wraps a backend so that every op is timed, by op name. Each op is
 * followed by {@link Backend#synchronize()}, so an asynchronous backend is timed truly (and runs
 * slower). Costs nothing when not used: the model only sees the wrapper when asked to.
 */
public final class OpProfiler {
    /** Time and calls of one op. */
    public record Entry(String op, long calls, long nanos) {}

    private final Map<String, long[]> totals = new TreeMap<>(); // op -> {calls, nanos}
    private final Backend profiled;

    public OpProfiler(Backend backend) {
        InvocationHandler handler = (proxy, method, args) -> invoke(backend, method, args);
        this.profiled = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, handler);
    }

    /** The backend to hand to the model. */
    public Backend backend() {
        return profiled;
    }

    private Object invoke(Backend backend, Method method, Object[] args) throws Throwable {
        long start = System.nanoTime();
        try {
            Object result = method.invoke(backend, args);
            backend.synchronize();
            return result;
        } catch (InvocationTargetException e) {
            throw e.getCause();
        } finally {
            long[] total = totals.computeIfAbsent(opName(method, args), name -> new long[2]);
            total[0]++;
            total[1] += System.nanoTime() - start;
        }
    }

    /** The method's name; for GEMMs also the transposes and the shape, which differ by orders of magnitude. */
    private static String opName(Method method, Object[] args) {
        String name = method.getName();
        if (!name.startsWith("gemm")) {
            return name;
        }
        String batch = args.length > 10 ? " x" + args[10] : "";
        return String.format("%s %s%s %dx%dx%d%s", name, (Boolean) args[0] ? "T" : "N", (Boolean) args[1] ? "T" : "N",
                args[2], args[3], args[4], batch);
    }

    /** Every op seen since the last reset, most time first. */
    public List<Entry> entries() {
        List<Entry> entries = new ArrayList<>();
        totals.forEach((op, total) -> entries.add(new Entry(op, total[0], total[1])));
        entries.sort((a, b) -> Long.compare(b.nanos(), a.nanos()));
        return entries;
    }

    public void reset() {
        totals.clear();
    }
}
