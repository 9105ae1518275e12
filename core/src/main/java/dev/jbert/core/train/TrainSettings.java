package dev.jbert.core.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The hyperparameters of a fine-tuning run: what `jbert train` takes, what a checkpoint records,
 * and what a resumed run must share with the run it continues (see {@link #differenceFrom}).
 *
 * @param maxSteps optimizer steps at most, over all epochs; 0 for no limit
 * @param limit    train on the first {@code limit} examples only; 0 for all
 */
public record TrainSettings(int epochs, int batchSize, int gradAccum, float learningRate, float weightDecay,
                            double warmupRatio, int maxSeqLength, int docStride, long seed, int maxSteps,
                            int limit) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public ObjectNode toJson() {
        ObjectNode node = JSON.createObjectNode();
        node.put("epochs", epochs);
        node.put("batch_size", batchSize);
        node.put("grad_accum", gradAccum);
        node.put("learning_rate", learningRate);
        node.put("weight_decay", weightDecay);
        node.put("warmup_ratio", warmupRatio);
        node.put("max_seq_length", maxSeqLength);
        node.put("doc_stride", docStride);
        node.put("seed", seed);
        node.put("max_steps", maxSteps);
        node.put("limit", limit);
        return node;
    }

    public static TrainSettings fromJson(JsonNode node) {
        return new TrainSettings(node.path("epochs").asInt(), node.path("batch_size").asInt(),
                node.path("grad_accum").asInt(), (float) node.path("learning_rate").asDouble(),
                (float) node.path("weight_decay").asDouble(), node.path("warmup_ratio").asDouble(),
                node.path("max_seq_length").asInt(), node.path("doc_stride").asInt(), node.path("seed").asLong(),
                node.path("max_steps").asInt(), node.path("limit").asInt());
    }

    /**
     * The first setting in which {@code other} differs from this run, or null when none does. A
     * resumed run must match in everything that decides the data order, the schedule and the
     * dropout masks, or it would not continue the same run.
     */
    public String differenceFrom(TrainSettings other) {
        JsonNode mine = toJson();
        JsonNode theirs = other.toJson();
        for (var names = mine.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!mine.get(name).equals(theirs.get(name))) {
                return name + " is " + theirs.get(name) + " there, " + mine.get(name) + " here";
            }
        }
        return null;
    }
}
