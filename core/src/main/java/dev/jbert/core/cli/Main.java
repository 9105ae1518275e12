package dev.jbert.core.cli;

import dev.jbert.tokenizer.TokenizerException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code jbert} command: one subcommand per job. */
@Command(name = "jbert",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "BERT fine-tuning for extractive question answering, in Java.",
        subcommands = {TokenizeCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** Exit code for bad input: a missing file, a malformed line, an impossible option. */
    public static final int EXIT_USER_ERROR = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the tool as the launcher would, returning the exit code (tests call this). */
    public static int run(String... args) {
        CommandLine commandLine = new CommandLine(new Main());
        commandLine.setExecutionExceptionHandler((error, cl, parsed) -> {
            if (error instanceof UserError || error instanceof TokenizerException) {
                cl.getErr().println("jbert: " + error.getMessage());
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
