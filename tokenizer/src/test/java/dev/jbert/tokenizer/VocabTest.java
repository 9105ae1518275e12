package dev.jbert.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VocabTest {
    @TempDir
    Path dir;

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    @Test
    void bundledVocabIsBertBaseUncased() {
        Vocab vocab = Vocab.bertBaseUncased();
        assertEquals(30522, vocab.size());
        assertEquals(0, vocab.padId());
        assertEquals(100, vocab.unkId());
        assertEquals(101, vocab.clsId());
        assertEquals(102, vocab.sepId());
        assertEquals(103, vocab.maskId());
        assertEquals("##ing", vocab.token(vocab.id("##ing")));
        assertEquals(-1, vocab.id("notaword"));
    }

    @Test
    void aSmallVocabFileWorks() throws IOException {
        Path file = write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nplay\n##ing\n");
        BertTokenizer tokenizer = new BertTokenizer(Vocab.load(file));
        assertEquals(List.of("play", "##ing", "[UNK]"), tokenizer.tokens("Playing games"));
    }

    @Test
    void theLastOfTwoEqualLinesWinsAsInHuggingFace() throws IOException {
        Vocab vocab = Vocab.load(write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nx\nx\n"));
        assertEquals(6, vocab.id("x"));
        assertEquals(7, vocab.size());
    }

    @Test
    void missingFileIsAOneLineError() {
        var e = assertThrows(TokenizerException.class, () -> Vocab.load(dir.resolve("absent.txt")));
        assertTrue(e.getMessage().contains("absent.txt") && e.getMessage().contains("not found"), e.getMessage());
    }

    @Test
    void unreadableFileIsAOneLineError() {
        var e = assertThrows(TokenizerException.class, () -> Vocab.load(dir));
        assertTrue(e.getMessage().startsWith("vocab file " + dir), e.getMessage());
    }

    @Test
    void eachRequiredTokenIsChecked() throws IOException {
        for (String missing : Vocab.REQUIRED) {
            StringBuilder text = new StringBuilder();
            for (String token : Vocab.REQUIRED) if (!token.equals(missing)) text.append(token).append('\n');
            Path file = write("vocab.txt", text.append("word\n").toString());
            var e = assertThrows(TokenizerException.class, () -> Vocab.load(file));
            assertTrue(e.getMessage().contains("lacks the required token " + missing), e.getMessage());
        }
    }

    @Test
    void emptyAndBinaryFilesAreErrors() throws IOException {
        Path empty = write("empty.txt", "");
        assertTrue(assertThrows(TokenizerException.class, () -> Vocab.load(empty)).getMessage().contains("empty"));
        Path binary = Files.write(dir.resolve("binary.txt"), new byte[] {(byte) 0xFF, (byte) 0xFE, 0, 1});
        assertTrue(assertThrows(TokenizerException.class, () -> Vocab.load(binary)).getMessage().contains("UTF-8"));
    }
}
