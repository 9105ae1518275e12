"""The PyTorch side of `./jbert bench`: the same bert-base training step and eval forward, timed
the same way, in eager PyTorch on the CPU (HF's computation, see bert_reference.py).

    OPENBLAS_CORETYPE=SKYLAKEX OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 python/bench_torch.py \
        [--batch-size 8] [--seq-len 384] [--runs 3] [--threads N (default: all cores)]

A training step: forward in training mode (dropout 0.1), the QA loss, backward, gradient clipping
at 1.0, AdamW. An eval forward: model.eval() under torch.no_grad(). Each is timed as the median
of --runs runs after two warm-up runs (as many as jbert's, whose JIT needs them). The last line
is JSON, as `./jbert bench --json` prints: {"train_step_s": .., "eval_forward_s": .., "threads": ..}.
scripts/bench-torch runs it twice: as installed, and with tcmalloc preloaded (PyTorch's CPU
tuning guide).
"""
import argparse
import json
import os
import resource
import statistics
import time

import torch

from bert_reference import BertForQuestionAnswering, adamw, qa_loss

BERT_BASE = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                 max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12)


def median_time(run, runs):
    for _ in range(2):  # warm-up, as many runs as ./jbert bench makes
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=384)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    # Debian's build starts with one OpenMP thread here (omp_get_max_threads() is 1): use every core,
    # as jbert does
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    model = BertForQuestionAnswering(BERT_BASE)
    with torch.no_grad():
        for name, v in model.named():
            if name.endswith("LayerNorm.weight"):
                v.fill_(1)
            elif not name.endswith(".bias"):
                v.normal_(0, 0.02)
    b, t = args.batch_size, args.seq_len
    ids = torch.randint(1000, BERT_BASE["vocab_size"], (b, t))
    types = torch.zeros(b, t, dtype=torch.long)
    types[:, t // 4:] = 1
    mask = torch.ones(b, t, dtype=torch.long)
    start = torch.randint(t // 4, t, (b,))
    end = torch.clamp(start + 3, max=t - 1)
    optimizer = adamw(model, lr=3e-5)
    parameters = [v for _, v in model.named()]

    def train_step():
        model.train()
        optimizer.zero_grad()
        s, e = model(ids, types, mask)
        qa_loss(s, e, start, end).backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()

    def eval_forward():
        model.eval()
        with torch.no_grad():
            model(ids, types, mask)

    train, train_times = median_time(train_step, args.runs)
    evaluate, eval_times = median_time(eval_forward, args.runs)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {b} x {t}")
    print("train step runs (s):", " ".join(f"{x:.2f}" for x in train_times))
    print("eval forward runs (s):", " ".join(f"{x:.2f}" for x in eval_times))
    # ru_maxrss is in KiB on Linux; jbert bench prints its peak RSS the same way (VmHWM)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6 * 1.024:.2f} GB")
    print(json.dumps(dict(train_step_s=round(train, 3), eval_forward_s=round(evaluate, 3),
                          threads=torch.get_num_threads())))


if __name__ == "__main__":
    main()
