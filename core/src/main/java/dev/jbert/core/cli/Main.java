package dev.jbert.core.cli;

import dev.jbert.core.io.ModelFileException;
import dev.jbert.core.squad.SquadFormatException;
import dev.jbert.core.train.TrainingException;
import dev.jbert.tokenizer.TokenizerException;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code jbert} command: one subcommand per job. */
@Command(name = "jbert",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "BERT fine-tuning for extractive question answering, in Java.",
        subcommands = {TrainCommand.class, EvaluateCommand.class, ScoreCommand.class, AnswerCommand.class,
            BenchCommand.class, ConvertCommand.class, TokenizeCommand.class, AttentionCommand.class, TraceCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** Exit code for bad input: a missing file, a malformed line, an impossible option. */
    public static final int EXIT_USER_ERROR = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        var out = new PrintWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), false);
        var err = new PrintWriter(new OutputStreamWriter(System.err, StandardCharsets.UTF_8), true);
        int code = run(out, err, args);
        out.flush();
        System.exit(code);
    }

    /** Runs the tool as the launcher would, writing to {@code out} and {@code err}; returns the exit code. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine commandLine = new CommandLine(new Main()).setOut(out).setErr(err);
        commandLine.setExecutionExceptionHandler((error, cl, parsed) -> {
            if (error instanceof UserError || error instanceof TokenizerException || error instanceof ModelFileException
                    || error instanceof TrainingException || error instanceof SquadFormatException) {
                // one line, whatever the message quotes from the input
                cl.getErr().println("jbert: " + error.getMessage().replaceAll("\\R", " "));
                cl.getErr().flush();
                return EXIT_USER_ERROR;
            }
            throw error;
        });
        return commandLine.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Main.class.getPackage().getImplementationVersion();
            return new String[] {"jbert " + (version == null ? "(development build)" : version)};
        }
    }
}
