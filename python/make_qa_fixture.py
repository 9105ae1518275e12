"""Writes the PyTorch reference fixture that ModelParityTest holds jbert's BertQa to.

An independent implementation (bert_reference.py: HF's BertForQuestionAnswering in plain
PyTorch). A tiny model (2 layers, hidden 32, 4 heads, intermediate 37) on a padded batch of 3
windows, in float64 so the fixture itself carries no rounding error worth the name:

  model.safetensors     the initial weights (HF names; the QA head included)
  config.json           HF config
  vocab.txt             99 placeholder tokens, the special ones first
  batch.json            input_ids, token_type_ids, attention_mask, start/end positions
  expected.safetensors  start_logits, end_logits [B, T]; loss [1]; grad.NAME for every parameter
                        (eval mode: no dropout); then 5 steps of torch.optim.AdamW (lr 1e-3,
                        weight decay 0.01 except biases and LayerNorm, eps 1e-8) with
                        clip_grad_norm_(1.0): adamw.losses [5], adamw.grad_norms [5], adamw.NAME

Run from the repository root:  /usr/bin/python3 python/make_qa_fixture.py
"""
import json
import os
import struct

import torch

from bert_reference import BertForQuestionAnswering, adamw, qa_loss

OUT = "core/src/test/resources/fixtures/tiny-qa"
CONFIG = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=37, hidden_act="gelu", hidden_dropout_prob=0.1,
              attention_probs_dropout_prob=0.1, max_position_embeddings=40, type_vocab_size=2,
              initializer_range=0.02, layer_norm_eps=1e-12, model_type="bert",
              architectures=["BertForQuestionAnswering"])


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = dict(dtype="F32", shape=list(t.shape), data_offsets=[offset, offset + len(data)])
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for blob in blobs:
            f.write(blob)


def main():
    torch.manual_seed(42)
    os.makedirs(OUT, exist_ok=True)
    model = BertForQuestionAnswering(CONFIG, torch.float64)
    model.eval()  # no dropout
    with torch.no_grad():
        for name, v in model.named():
            # larger than HF's 0.02, so that every path carries a visible signal
            if name.endswith("LayerNorm.weight"):
                v.normal_(1, 0.2)
            elif name.endswith(".bias"):
                v.normal_(0, 0.2)
            else:
                v.normal_(0, 0.5)
            # stored as float32, and jbert computes in float32: round first, so both sides start
            # from the same numbers
            v.copy_(v.to(torch.float32).to(torch.float64))
    b, t = 3, 13
    lengths = [13, 9, 5]
    ids = torch.randint(1, CONFIG["vocab_size"], (b, t))
    types = torch.zeros(b, t, dtype=torch.long)
    mask = torch.zeros(b, t, dtype=torch.long)
    for s, n in enumerate(lengths):
        mask[s, :n] = 1
        types[s, n // 2:n] = 1
        ids[s, n:] = 0
    start = torch.tensor([2, 6, 1])
    end = torch.tensor([4, 7, 3])

    write_safetensors(f"{OUT}/model.safetensors", {k: v for k, v in model.named()})
    with open(f"{OUT}/config.json", "w") as f:
        json.dump(CONFIG, f, indent=2)
    with open(f"{OUT}/vocab.txt", "w") as f:
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        f.write("\n".join(specials + [f"w{i}" for i in range(CONFIG["vocab_size"] - len(specials))]) + "\n")
    with open(f"{OUT}/batch.json", "w") as f:
        json.dump(dict(input_ids=ids.flatten().tolist(), token_type_ids=types.flatten().tolist(),
                       attention_mask=mask.flatten().tolist(), start_positions=start.tolist(),
                       end_positions=end.tolist(), batch=b, tokens=t), f)

    expected = {}
    s_logits, e_logits = model(ids, types, mask)
    loss = qa_loss(s_logits, e_logits, start, end)
    loss.backward()
    expected["start_logits"] = s_logits
    expected["end_logits"] = e_logits
    expected["loss"] = loss.reshape(1)
    for name, v in model.named():
        expected["grad." + name] = v.grad.clone()  # zero_grad() below zeroes v.grad in place
    model.zero_grad()

    optimizer = adamw(model, lr=1e-3)
    losses, norms = [], []
    for step in range(5):
        optimizer.zero_grad()
        s_logits, e_logits = model(ids, types, mask)
        loss = qa_loss(s_logits, e_logits, start, end)
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_([v for _, v in model.named()], 1.0))
        optimizer.step()
        losses.append(loss.detach())
    expected["adamw.losses"] = torch.stack(losses)
    expected["adamw.grad_norms"] = torch.stack(norms)
    for name, v in model.named():
        expected["adamw." + name] = v
    write_safetensors(f"{OUT}/expected.safetensors", expected)
    print("wrote", OUT, "loss", float(expected["loss"]), "losses", [round(float(x), 6) for x in losses])


if __name__ == "__main__":
    main()
