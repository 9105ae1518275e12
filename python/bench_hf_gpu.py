"""The speed peer of jbert's CUDA backend: Hugging Face BertForQuestionAnswering (bert-base, random
weights) training on the GPU, timed the way `jbert bench` times itself.

    python3 python/bench_hf_gpu.py [--batch-size 32] [--seq-len 384] [--runs 20] [--compile]

A training step: forward in training mode (dropout 0.1) under torch.autocast(bfloat16) with fp32
master weights, the QA loss, backward, gradient clipping at 1.0, fused AdamW. The tuned settings
PyTorch offers without changing the model: SDPA attention (HF's default), fused AdamW, TF32 allowed
for any fp32 matmul left, and with --compile torch.compile. Time: CUDA-synchronized median of --runs
steps after 5 warm-up steps. Last line JSON: {"train_step_s", "sequences_per_s", "peak_gpu_gb", ...}.
"""
import argparse
import json
import statistics
import time

import torch
import transformers
from transformers import BertConfig, BertForQuestionAnswering


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=384)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(42)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    device = torch.device("cuda")
    config = BertConfig()  # bert-base-uncased's shape
    model = BertForQuestionAnswering(config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=0.01, fused=True)
    step_model = torch.compile(model) if args.compile else model
    b, t = args.batch_size, args.seq_len
    ids = torch.randint(1000, config.vocab_size, (b, t), device=device)
    types = torch.zeros(b, t, dtype=torch.long, device=device)
    types[:, t // 4:] = 1
    mask = torch.ones(b, t, dtype=torch.long, device=device)
    starts = torch.randint(t // 4, t, (b,), device=device)
    ends = torch.clamp(starts + 3, max=t - 1)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = step_model(input_ids=ids, token_type_ids=types, attention_mask=mask,
                             start_positions=starts, end_positions=ends)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    for _ in range(5):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    peak = torch.cuda.max_memory_allocated() / 1e9
    print(f"HF {transformers.__version__}, torch {torch.__version__}, {torch.cuda.get_device_name()}, "
          f"attention {model.config._attn_implementation}, compile {args.compile}")
    print(f"train step median {median:.4f} s over {args.runs} runs (min {min(times):.4f}, max {max(times):.4f}); "
          f"{b / median:.1f} sequences/s; peak GPU memory allocated {peak:.2f} GB")
    print(json.dumps({"train_step_s": round(median, 5), "sequences_per_s": round(b / median, 2),
                      "peak_gpu_gb": round(peak, 2), "compile": args.compile,
                      "attention": model.config._attn_implementation}))


if __name__ == "__main__":
    main()
