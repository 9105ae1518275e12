package dev.jbert.core.squad;

import java.nio.file.Path;
import java.util.List;

/** The usable examples of a SQuAD file, in file order, and what answer alignment did to reach them. */
public record SquadDataset(Path file, List<SquadExample> examples, AlignmentStats stats) {
    public SquadDataset {
        examples = List.copyOf(examples);
    }
}
