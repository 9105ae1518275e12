package dev.jbert.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link L1Cache} finds the L1 data cache in sysfs, else through sysconf, as the CPU reports it. */
class L1CacheTest {
    @Test
    void sysfsGivesTheLevelOneDataCache(@TempDir Path caches) throws IOException {
        cache(caches, 0, "1", "Instruction", "32K");
        cache(caches, 1, "1", "Data", "48K");
        cache(caches, 2, "2", "Unified", "2048K");
        assertEquals(OptionalInt.of(48 * 1024), L1Cache.fromSysfs(caches));
    }

    @Test
    void noSysfsDirectoryGivesNothing(@TempDir Path empty) {
        assertEquals(OptionalInt.empty(), L1Cache.fromSysfs(empty.resolve("cache")));
    }

    @Test
    void sysconfAgreesWithGetconf() throws Exception {
        String getconf = run("getconf", "LEVEL1_DCACHE_SIZE");
        assumeTrue(getconf != null && getconf.matches("\\d+") && Integer.parseInt(getconf) > 0,
                "getconf gives no L1 data cache size here");
        assertEquals(OptionalInt.of(Integer.parseInt(getconf)), L1Cache.fromSysconf());
    }

    @Test
    void theSizeInUseIsARealCache() {
        int bytes = L1Cache.dataBytes();
        assertTrue(bytes >= 8 * 1024 && bytes <= 1024 * 1024, bytes + " bytes");
    }

    private static void cache(Path caches, int index, String level, String type, String size) throws IOException {
        Path dir = Files.createDirectories(caches.resolve("index" + index));
        Files.writeString(dir.resolve("level"), level + "\n");
        Files.writeString(dir.resolve("type"), type + "\n");
        Files.writeString(dir.resolve("size"), size + "\n");
    }

    /** A command's stripped output, or null when it cannot run. */
    private static String run(String... command) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(process.getInputStream().readAllBytes()).strip();
            return process.waitFor(10, TimeUnit.SECONDS) && process.exitValue() == 0 ? out : null;
        } catch (IOException | InterruptedException e) {
            return null;
        }
    }
}
