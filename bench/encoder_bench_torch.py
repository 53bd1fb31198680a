#!/usr/bin/python3
"""encoder_bench_torch.py -- the PyTorch peer of the C encoder benchmark: the
same BERT forward pass (embeddings, LayerNorm, attention, GELU FFN, mean
pooling, L2) in eager PyTorch, float32, on the weights of a model directory
written by scripts/make_tiny_bert.py, for N sequences of L tokens in batches.
Prints one line: "sentences/s sentences/cpu-s" (medians of R runs; CPU time
is process time of all threads, which stays meaningful on a loaded machine).

usage: encoder_bench_torch.py MODEL_DIR THREADS N L BATCH RUNS
"""
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch


def load(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    raw = open(os.path.join(d, "model.safetensors"), "rb").read()
    (hl,) = struct.unpack("<Q", raw[:8])
    hdr = json.loads(raw[8:8 + hl])
    base = 8 + hl
    W = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        W[k] = torch.from_numpy(np.frombuffer(raw[base + b:base + e], dtype="<f4").reshape(v["shape"]).copy())
    return cfg, W


def forward(cfg, W, ids):
    B, L = ids.shape
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    dh, eps = H // nh, cfg["layer_norm_eps"]
    F = torch.nn.functional
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:L][None] \
        + W["embeddings.token_type_embeddings.weight"][0]
    x = F.layer_norm(x, (H,), W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    for l in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        lin = lambda t, n: F.linear(t, W[p + n + ".weight"], W[p + n + ".bias"])
        q = lin(x, "attention.self.query").view(B, L, nh, dh).transpose(1, 2)
        k = lin(x, "attention.self.key").view(B, L, nh, dh).transpose(1, 2)
        v = lin(x, "attention.self.value").view(B, L, nh, dh).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), -1) @ v
        a = a.transpose(1, 2).reshape(B, L, H)
        x = F.layer_norm(x + lin(a, "attention.output.dense"), (H,), W[p + "attention.output.LayerNorm.weight"],
                         W[p + "attention.output.LayerNorm.bias"], eps)
        h = F.gelu(lin(x, "intermediate.dense"))
        x = F.layer_norm(x + lin(h, "output.dense"), (H,), W[p + "output.LayerNorm.weight"],
                         W[p + "output.LayerNorm.bias"], eps)
    return F.normalize(x.mean(1), dim=-1)


def main():
    d, threads, n, L, bs, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(
        sys.argv[5]), int(sys.argv[6])
    torch.set_num_threads(threads)
    cfg, W = load(d)
    rng = np.random.default_rng(1)
    ids = torch.from_numpy(rng.integers(5, cfg["vocab_size"], size=(n, L)))
    rates, cpu = [], []
    with torch.inference_mode():
        forward(cfg, W, ids[:bs])  # warm-up
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(0, n, bs):
                forward(cfg, W, ids[i:i + bs])
            rates.append(n / (time.perf_counter() - t0))
            cpu.append(n / (time.process_time() - c0))
    print("%.1f %.1f" % (statistics.median(rates), statistics.median(cpu)))


if __name__ == "__main__":
    main()
