"""Hugging Face's BertForQuestionAnswering written out in plain PyTorch: the reference jbert is
tested against (make_qa_fixture.py) and the peer it is timed against (bench_torch.py).

transformers cannot be installed on the build machines (no PyPI), so this follows HF's
modeling_bert.py op for op: embeddings (word + position + token type, LayerNorm, dropout),
post-LayerNorm encoder layers (self-attention with HF's additive mask of the most negative float,
dropout on the probabilities, output projection, dropout, residual, LayerNorm; exact-erf GELU
feed-forward, dropout, residual, LayerNorm), and qa_outputs. Parameter names are HF's.
"""
import math

import torch


def parameter_shapes(c):
    """HF names and shapes of every parameter, in HF's order."""
    h, i = c["hidden_size"], c["intermediate_size"]
    e = "bert.embeddings."
    shapes = [(e + "word_embeddings.weight", (c["vocab_size"], h)),
              (e + "position_embeddings.weight", (c["max_position_embeddings"], h)),
              (e + "token_type_embeddings.weight", (c["type_vocab_size"], h)),
              (e + "LayerNorm.weight", (h,)), (e + "LayerNorm.bias", (h,))]
    for l in range(c["num_hidden_layers"]):
        p = f"bert.encoder.layer.{l}."
        for part in ("query", "key", "value"):
            shapes += [(p + f"attention.self.{part}.weight", (h, h)), (p + f"attention.self.{part}.bias", (h,))]
        shapes += [(p + "attention.output.dense.weight", (h, h)), (p + "attention.output.dense.bias", (h,)),
                   (p + "attention.output.LayerNorm.weight", (h,)), (p + "attention.output.LayerNorm.bias", (h,)),
                   (p + "intermediate.dense.weight", (i, h)), (p + "intermediate.dense.bias", (i,)),
                   (p + "output.dense.weight", (h, i)), (p + "output.dense.bias", (h,)),
                   (p + "output.LayerNorm.weight", (h,)), (p + "output.LayerNorm.bias", (h,))]
    shapes += [("qa_outputs.weight", (2, h)), ("qa_outputs.bias", (2,))]
    return shapes


class BertForQuestionAnswering(torch.nn.Module):
    def __init__(self, config, dtype=torch.float32):
        super().__init__()
        self.c = config
        self.names = []
        for name, shape in parameter_shapes(config):
            self.register_parameter(name.replace(".", "__"), torch.nn.Parameter(torch.zeros(shape, dtype=dtype)))
            self.names.append(name)

    def w(self, name):
        return getattr(self, name.replace(".", "__"))

    def named(self):
        """(HF name, parameter) pairs."""
        return [(name, self.w(name)) for name in self.names]

    def forward(self, ids, types, mask):
        c, w = self.c, self.w
        b, t = ids.shape
        h, heads = c["hidden_size"], c["num_attention_heads"]
        d = h // heads
        eps = c["layer_norm_eps"]
        drop = lambda x, p: torch.nn.functional.dropout(x, p, self.training)
        ln = lambda x, name: torch.nn.functional.layer_norm(x, (h,), w(name + ".weight"), w(name + ".bias"), eps)
        lin = lambda x, name: torch.nn.functional.linear(x, w(name + ".weight"), w(name + ".bias"))
        e = "bert.embeddings."
        x = w(e + "word_embeddings.weight")[ids] + w(e + "position_embeddings.weight")[torch.arange(t)][None] \
            + w(e + "token_type_embeddings.weight")[types]
        x = drop(ln(x, e + "LayerNorm"), c["hidden_dropout_prob"])
        additive = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for l in range(c["num_hidden_layers"]):
            p = f"bert.encoder.layer.{l}."
            split = lambda y: y.view(b, t, heads, d).permute(0, 2, 1, 3)
            q = split(lin(x, p + "attention.self.query"))
            k = split(lin(x, p + "attention.self.key"))
            v = split(lin(x, p + "attention.self.value"))
            scores = q @ k.transpose(-1, -2) / math.sqrt(d) + additive
            probs = drop(torch.softmax(scores, dim=-1), c["attention_probs_dropout_prob"])
            ctx = (probs @ v).permute(0, 2, 1, 3).reshape(b, t, h)
            x = ln(drop(lin(ctx, p + "attention.output.dense"), c["hidden_dropout_prob"]) + x,
                   p + "attention.output.LayerNorm")
            f = torch.nn.functional.gelu(lin(x, p + "intermediate.dense"))  # exact erf form
            x = ln(drop(lin(f, p + "output.dense"), c["hidden_dropout_prob"]) + x, p + "output.LayerNorm")
        logits = lin(x, "qa_outputs")
        return logits[..., 0], logits[..., 1]


def qa_loss(start_logits, end_logits, start, end):
    """HF's loss: the mean of the start and end cross-entropies."""
    ce = torch.nn.functional.cross_entropy
    return (ce(start_logits, start) + ce(end_logits, end)) / 2


def adamw(model, lr, weight_decay=0.01):
    """run_qa's optimizer: AdamW, no weight decay for biases and LayerNorm parameters."""
    no_decay = lambda name: name.endswith(".bias") or "LayerNorm" in name
    groups = [dict(params=[v for n, v in model.named() if not no_decay(n)], weight_decay=weight_decay),
              dict(params=[v for n, v in model.named() if no_decay(n)], weight_decay=0.0)]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)
