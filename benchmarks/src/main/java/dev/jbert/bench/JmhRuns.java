package dev.jbert.bench;

import java.util.Collection;
import java.util.function.Predicate;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.util.Statistics;

/** How the benchmarks with a summary table of their own run JMH from their {@code main}. */
public final class JmhRuns {
    private JmhRuns() {}

    /**
     * Runs every benchmark method of {@code benchmarks} with JMH's command-line options
     * ({@code -wi}, {@code -i}, {@code -f}, ...) and returns the results for the table.
     */
    public static Collection<RunResult> run(String[] args, Class<?>... benchmarks)
            throws CommandLineOptionException, RunnerException {
        OptionsBuilder options = new OptionsBuilder();
        options.parent(new CommandLineOptions(args));
        for (Class<?> benchmark : benchmarks) {
            options.include(benchmark.getSimpleName() + "\\.");
        }
        return new Runner(options.build()).run();
    }

    /** The samples of the first result whose benchmark and parameters match, or null if none ran. */
    public static Statistics statistics(Collection<RunResult> results, Predicate<BenchmarkParams> match) {
        for (RunResult r : results) {
            if (match.test(r.getParams())) {
                return r.getPrimaryResult().getStatistics();
            }
        }
        return null;
    }
}
