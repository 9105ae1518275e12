package dev.jbert.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A WordPiece vocabulary: one token per line, the line number is the id.
 *
 * <p>Lookups are the tokenizer's hot loop, so the vocab answers "is this slice of code points a
 * piece?" without building a String: every entry's code points live in one pool, and an
 * open-addressing table maps (continuation flag, code points) to an id. An entry {@code ##ing} is
 * stored as continuation=true, text "ing", which is exactly how WordPiece asks for it.
 */
public final class Vocab {
    /** The tokens every BERT vocab must have, in the order BERT's tools list them. */
    public static final String PAD = "[PAD]", UNK = "[UNK]", CLS = "[CLS]", SEP = "[SEP]", MASK = "[MASK]";
    static final List<String> REQUIRED = List.of(PAD, UNK, CLS, SEP, MASK);
    private static final String CONTINUATION_PREFIX = "##";
    private static final String DEFAULT_RESOURCE = "vocab.txt";

    private final String[] tokens;
    private final int[] pool;          // code points of every entry, prefix "##" removed
    private final int[] entryStart;    // entry id -> first index in pool
    private final int[] entryLength;   // entry id -> number of code points
    private final boolean[] continuation;
    private final int[] slots;         // hash table of ids, -1 = empty; size is a power of two
    private final int maxPieceLength;  // longest entry in code points: no match can be longer
    private final int padId, unkId, clsId, sepId, maskId;

    private Vocab(List<String> lines, String source) {
        int n = lines.size();
        tokens = lines.toArray(new String[0]);
        entryStart = new int[n];
        entryLength = new int[n];
        continuation = new boolean[n];
        int[][] codePoints = new int[n][];
        int total = 0, longest = 0;
        for (int id = 0; id < n; id++) {
            String token = tokens[id];
            boolean cont = token.startsWith(CONTINUATION_PREFIX) && token.length() > CONTINUATION_PREFIX.length();
            codePoints[id] = (cont ? token.substring(CONTINUATION_PREFIX.length()) : token).codePoints().toArray();
            continuation[id] = cont;
            total += codePoints[id].length;
            longest = Math.max(longest, codePoints[id].length);
        }
        pool = new int[total];
        for (int id = 0, at = 0; id < n; id++) {
            System.arraycopy(codePoints[id], 0, pool, at, codePoints[id].length);
            entryStart[id] = at;
            entryLength[id] = codePoints[id].length;
            at += codePoints[id].length;
        }
        maxPieceLength = longest;
        slots = new int[Integer.highestOneBit(Math.max(16, n * 3)) << 1];
        java.util.Arrays.fill(slots, -1);
        for (int id = 0; id < n; id++) {
            // a token listed twice gets its last id, as HF's WordPiece::read_file does
            slots[findSlot(pool, entryStart[id], entryStart[id] + entryLength[id], continuation[id])] = id;
        }
        padId = requireId(PAD, source);
        unkId = requireId(UNK, source);
        clsId = requireId(CLS, source);
        sepId = requireId(SEP, source);
        maskId = requireId(MASK, source);
    }

    /** The bert-base-uncased vocab that ships inside jbert. */
    public static Vocab bertBaseUncased() {
        try (InputStream in = Vocab.class.getResourceAsStream(DEFAULT_RESOURCE)) {
            if (in == null) throw new IllegalStateException("the bundled " + DEFAULT_RESOURCE + " is missing from the jar");
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), "bundled " + DEFAULT_RESOURCE);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the bundled " + DEFAULT_RESOURCE, e);
        }
    }

    /** Reads a vocab file; any problem is a one-line {@link TokenizerException} naming the file. */
    public static Vocab load(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new TokenizerException("vocab file " + file + ": not found");
        } catch (IOException e) {
            throw new TokenizerException("vocab file " + file + ": cannot read (" + e.getMessage() + ")");
        }
        try {
            String text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
            return parse(text, "vocab file " + file);
        } catch (CharacterCodingException e) {
            throw new TokenizerException("vocab file " + file + ": not valid UTF-8");
        }
    }

    private static Vocab parse(String text, String source) {
        // HF reads a vocab line by line and trims trailing whitespace only; the line number is the id,
        // so empty lines inside the file keep their place. A final newline does not start a line.
        List<String> lines = new ArrayList<>();
        for (String line : text.split("\n", -1)) lines.add(line.stripTrailing());
        if (text.endsWith("\n")) lines.removeLast();
        if (text.isEmpty()) throw new TokenizerException(source + ": empty");
        return new Vocab(lines, source);
    }

    private int requireId(String token, String source) {
        int id = id(token);
        if (id < 0) throw new TokenizerException(source + ": lacks the required token " + token);
        return id;
    }

    /** The id of a whole token as written in the vocab file (e.g. "##ing"), or -1. */
    public int id(String token) {
        boolean cont = token.startsWith(CONTINUATION_PREFIX) && token.length() > CONTINUATION_PREFIX.length();
        int[] cps = (cont ? token.substring(CONTINUATION_PREFIX.length()) : token).codePoints().toArray();
        return slots[findSlot(cps, 0, cps.length, cont)];
    }

    /** The id of the piece {@code text[from, to)}, a word continuation when {@code continuation}; -1 if absent. */
    int lookup(int[] text, int from, int to, boolean continuation) {
        return slots[findSlot(text, from, to, continuation)];
    }

    /** Linear probing: the slot holding this key, or the empty slot where it would go. */
    private int findSlot(int[] text, int from, int to, boolean cont) {
        int h = cont ? 0x9E3779B9 : 0;
        for (int i = from; i < to; i++) h = (h ^ text[i]) * 0x01000193;
        h ^= h >>> 15;
        int mask = slots.length - 1;
        for (int slot = h & mask; ; slot = (slot + 1) & mask) {
            int id = slots[slot];
            if (id < 0 || matches(id, text, from, to, cont)) return slot;
        }
    }

    private boolean matches(int id, int[] text, int from, int to, boolean cont) {
        if (continuation[id] != cont || entryLength[id] != to - from) return false;
        return java.util.Arrays.equals(pool, entryStart[id], entryStart[id] + entryLength[id], text, from, to);
    }

    public String token(int id) { return tokens[id]; }
    public int size() { return tokens.length; }
    int maxPieceLength() { return maxPieceLength; }
    public int padId() { return padId; }
    public int unkId() { return unkId; }
    public int clsId() { return clsId; }
    public int sepId() { return sepId; }
    public int maskId() { return maskId; }
}
