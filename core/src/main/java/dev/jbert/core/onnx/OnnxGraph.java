package dev.jbert.core.onnx;

import dev.jbert.core.io.ProtoReader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The graph of an ONNX {@code ModelProto}: its initializers (the weights) and its nodes, with each
 * value's producer and consumers, which is what it takes to tell which anonymous weight is which.
 * Field numbers are onnx.proto's; everything else in the file is skipped. Malformed input throws
 * IllegalArgumentException.
 */
final class OnnxGraph {
    /** A NodeProto, with its tensor-valued attributes (a Constant's {@code value}). */
    record Node(String name, String opType, List<String> inputs, List<String> outputs,
                Map<String, OnnxTensor> tensorAttributes) {}

    private final Map<String, OnnxTensor> initializers = new LinkedHashMap<>();
    private final List<Node> nodes = new ArrayList<>();
    private final Map<String, Node> producers = new HashMap<>();
    private final Map<String, List<Node>> consumers = new HashMap<>();

    /**
     * ModelProto: 1 ir_version, 7 graph. Their tags are matched with their wire types, so a file
     * that is not ONNX at all fails here rather than somewhere inside.
     */
    static OnnxGraph parse(byte[] model) {
        ProtoReader reader = new ProtoReader(model);
        boolean versioned = false;
        OnnxGraph graph = null;
        while (reader.hasMore()) {
            int tag = reader.readTag();
            switch (tag) {
                case 1 << 3 | ProtoReader.VARINT -> versioned = reader.readVarint() > 0;
                case 7 << 3 | ProtoReader.LENGTH_DELIMITED -> graph = new OnnxGraph(reader.readMessage());
                default -> reader.skip(tag & 7);
            }
        }
        if (!versioned || graph == null) {
            throw new IllegalArgumentException("no ir_version or no graph");
        }
        return graph;
    }

    /** GraphProto: 1 node, 5 initializer. */
    private OnnxGraph(ProtoReader reader) {
        while (reader.hasMore()) {
            int tag = reader.readTag();
            switch (tag >>> 3) {
                case 1 -> nodes.add(parseNode(reader.readMessage()));
                case 5 -> {
                    OnnxTensor tensor = OnnxTensor.parse(reader.readMessage());
                    initializers.put(tensor.name(), tensor);
                }
                default -> reader.skip(tag & 7);
            }
        }
        for (Node node : nodes) {
            node.outputs().forEach(output -> producers.put(output, node));
            node.inputs().forEach(input -> consumers.computeIfAbsent(input, k -> new ArrayList<>()).add(node));
        }
    }

    /** NodeProto: 1 input, 2 output, 3 name, 4 op_type, 5 attribute (AttributeProto: 1 name, 5 t). */
    private static Node parseNode(ProtoReader reader) {
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        String name = "";
        String opType = "";
        Map<String, OnnxTensor> tensors = new HashMap<>();
        while (reader.hasMore()) {
            int tag = reader.readTag();
            switch (tag >>> 3) {
                case 1 -> inputs.add(reader.readString());
                case 2 -> outputs.add(reader.readString());
                case 3 -> name = reader.readString();
                case 4 -> opType = reader.readString();
                case 5 -> {
                    ProtoReader attribute = reader.readMessage();
                    String attributeName = "";
                    OnnxTensor tensor = null;
                    while (attribute.hasMore()) {
                        int attributeTag = attribute.readTag();
                        switch (attributeTag >>> 3) {
                            case 1 -> attributeName = attribute.readString();
                            case 5 -> tensor = OnnxTensor.parse(attribute.readMessage());
                            default -> attribute.skip(attributeTag & 7);
                        }
                    }
                    if (tensor != null) {
                        tensors.put(attributeName, tensor);
                    }
                }
                default -> reader.skip(tag & 7);
            }
        }
        if (outputs.isEmpty()) {
            throw new IllegalArgumentException("node " + name + " (" + opType + ") has no output");
        }
        return new Node(name, opType, inputs, outputs, tensors);
    }

    /** The initializers by name, in file order. */
    Map<String, OnnxTensor> initializers() {
        return initializers;
    }

    List<Node> nodes() {
        return nodes;
    }

    /** The node whose output {@code value} is, or null (a graph input or an initializer). */
    Node producer(String value) {
        return producers.get(value);
    }

    /** The nodes that take {@code value} as an input. */
    List<Node> consumers(String value) {
        return consumers.getOrDefault(value, List.of());
    }

    /** {@code value} when it is a constant (an initializer or a Constant node's output), else null. */
    OnnxTensor constant(String value) {
        Node producer = producers.get(value);
        if (producer != null && producer.opType().equals("Constant")) {
            return producer.tensorAttributes().get("value");
        }
        return initializers.get(value);
    }
}
