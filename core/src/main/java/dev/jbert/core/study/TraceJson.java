package dev.jbert.core.study;

import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.util.List;

/**
 * A trace in JSON: {@code "field": [{"name", "layer" (null outside the layers), "shape", "axes"
 * (null for parameters), "mean", "std", "min", "max", "zero_fraction"}, ...]}, in computation order.
 */
public final class TraceJson {
    private TraceJson() {}

    public static void writeTensors(JsonGenerator g, String field, List<TracedTensor> tensors) throws IOException {
        g.writeArrayFieldStart(field);
        for (TracedTensor tensor : tensors) {
            TensorStats s = tensor.stats();
            g.writeStartObject();
            g.writeStringField("name", tensor.name());
            if (tensor.layer() < 0) {
                g.writeNullField("layer");
            } else {
                g.writeNumberField("layer", tensor.layer());
            }
            int[] shape = tensor.shape();
            g.writeFieldName("shape");
            g.writeArray(shape, 0, shape.length);
            if (tensor.axes() == null) {
                g.writeNullField("axes");
            } else {
                g.writeStringField("axes", tensor.axes());
            }
            g.writeNumberField("mean", s.mean());
            g.writeNumberField("std", s.std());
            g.writeNumberField("min", s.min());
            g.writeNumberField("max", s.max());
            g.writeNumberField("zero_fraction", s.zeroFraction());
            g.writeEndObject();
        }
        g.writeEndArray();
    }
}
