#!/usr/bin/env python3
"""PyTorch reference for bench/bench_models.cpp: the same models (shared/BENCHMARKS.md), batch,
optimizer, precision and step protocol; one JSON line per run. Not a build or test dependency.

CPU, Debian's PyTorch 1.13 with OpenBLAS; 2 threads on both sides:
    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/torch_ref.py --model cnn --batch 128 \
        --precision fp32 --threads 2
fp16 uses torch.autocast("cpu", torch.float16) when this PyTorch supports it, else the row is
reported as unsupported; bf16 uses torch.autocast("cpu", torch.bfloat16).
"""
import argparse
import json
import os
import resource
import statistics
import time

import torch
import torch.nn as nn


def conv_bn(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU())


class Residual(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


class Scale(nn.Module):
    def forward(self, x):
        return x * 0.125


class RowsAsTokens(nn.Module):  # [N, 1, 28, 28] -> [N, 28, 28]
    def forward(self, x):
        return x.reshape(x.size(0), x.size(2), x.size(3))


class PositionEmbedding(nn.Module):
    def __init__(self, tokens, width):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(tokens, width) * 0.02)

    def forward(self, x):
        return x + self.weight


class MeanOverTokens(nn.Module):
    def forward(self, x):
        return x.mean(1)


class LastStepLSTM(nn.Module):
    def __init__(self, d_in, hidden):
        super().__init__()
        self.lstm = nn.LSTM(d_in, hidden, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0][:, -1]


def make(name):
    # the MNIST sequence models of examples/common/models.cpp (not in BENCHMARKS.md)
    if name == "transformer":
        layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, dropout=0.0,
                                           batch_first=True, norm_first=True)
        return nn.Sequential(RowsAsTokens(), nn.Linear(28, 64), PositionEmbedding(28, 64),
                             nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(64)),
                             MeanOverTokens(), nn.Linear(64, 10))
    if name == "lstm":
        return nn.Sequential(RowsAsTokens(), LastStepLSTM(28, 128), nn.Linear(128, 10))
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024),
                             nn.ReLU(), nn.Linear(1024, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(conv_bn(3, 64), conv_bn(64, 128), nn.MaxPool2d(2),
                         Residual(nn.Sequential(conv_bn(128, 128), conv_bn(128, 128))),
                         conv_bn(128, 256), nn.MaxPool2d(2), conv_bn(256, 512), nn.MaxPool2d(2),
                         Residual(nn.Sequential(conv_bn(512, 512), conv_bn(512, 512))),
                         nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(512, 10), Scale())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="cnn")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--precision", default="fp32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    a = p.parse_args()
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = make(a.model).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    shape = (a.batch, 3, 32, 32) if a.model == "resnet9" else (a.batch, 1, 28, 28)
    xs = [torch.randn(shape).to(dev) for _ in range(4)]
    ys = [torch.randint(0, 10, (a.batch,)).to(dev) for _ in range(4)]
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(a.precision)
    row = {"framework": "pytorch " + torch.__version__, "model": a.model, "batch": a.batch,
           "precision": a.precision, "device": a.device, "threads": a.threads,
           "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "")}
    # CPU: no GradScaler in torch 1.13 (and no fp16 autocast); CUDA: dynamic scaling for fp16
    scaler = torch.cuda.amp.GradScaler(enabled=a.device == "cuda" and a.precision == "fp16")
    times = []
    try:
        for i in range(a.warmup + a.steps):
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                loss = nn.functional.cross_entropy(model(xs[i % 4]), ys[i % 4])
            scaler.scale(loss).backward()
            scaler.step(opt)  # a plain opt.step() when the scaler is disabled
            scaler.update()
            loss.item()  # the step is done when its loss can be read (synchronises on CUDA)
            if i >= a.warmup:
                times.append((time.perf_counter() - start) * 1e3)
    except (RuntimeError, TypeError) as e:
        row["error"] = str(e).splitlines()[0][:120]
        print(json.dumps(row))
        return
    median = statistics.median(times)
    row.update(median_ms=round(median, 3), samples_per_s=round(1000 * a.batch / median, 1),
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    if a.device == "cuda":
        row["peak_device_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
