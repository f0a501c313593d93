#!/usr/bin/env python3
"""PyTorch reference for bench/bench_conv_pool.cpp: the conv/pool layers of the BENCHMARKS.md
"cnn" model at batch 128, fp32, forward and forward+backward, median ms of timed runs after
warm-up, input batches rotated. Not a build or test dependency.

Run with Debian's PyTorch (python3-torch, 1.13 CPU, OpenBLAS) on 2 threads:
    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/torch_conv_pool.py [--threads 2]
        [--clock wall|cpu]
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F


def median_ms(fn, warmup, repeat, clock):
    for i in range(warmup):
        fn(i)
    times = []
    for i in range(repeat):
        start = clock()
        fn(warmup + i)
        times.append((clock() - start) * 1e3)
    return statistics.median(times)


def layers(batch):
    w1 = (torch.randn(32, 1, 3, 3) * 0.1).requires_grad_()
    b1 = (torch.randn(32) * 0.1).requires_grad_()
    w2 = (torch.randn(64, 32, 3, 3) * 0.1).requires_grad_()
    b2 = (torch.randn(64) * 0.1).requires_grad_()
    return [
        ("conv1 1->32 3x3 p1 28x28", (batch, 1, 28, 28),
         lambda x: F.conv2d(x, w1, b1, padding=1), [w1, b1], False),
        ("maxpool1 2x2 32x28x28", (batch, 32, 28, 28), lambda x: F.max_pool2d(x, 2), [], True),
        ("conv2 32->64 3x3 p1 14x14", (batch, 32, 14, 14),
         lambda x: F.conv2d(x, w2, b2, padding=1), [w2, b2], True),
        ("maxpool2 2x2 64x14x14", (batch, 64, 14, 14), lambda x: F.max_pool2d(x, 2), [], True),
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: process CPU time summed over threads (for a loaded machine)")
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"# torch {torch.__version__}, {args.threads} threads, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"batch {args.batch}, float32, median of {args.repeat} runs after {args.warmup} warm-up, "
          f"{'process CPU time' if args.clock == 'cpu' else 'wall time'}")
    print(f"{'layer':28s} {'forward ms':>11s} {'fwd+bwd ms':>11s}")
    total_f = total_fb = 0.0
    for name, shape, fn, params, input_grad in layers(args.batch):
        inputs = [torch.randn(shape).requires_grad_(input_grad) for _ in range(3)]
        seed = torch.randn(fn(inputs[0]).shape)

        def forward(i):
            fn(inputs[i % 3])

        def step(i):
            x = inputs[i % 3]
            for p in params + [x]:
                p.grad = None
            fn(x).backward(seed)

        f = median_ms(forward, args.warmup, args.repeat, clock)
        fb = median_ms(step, args.warmup, args.repeat, clock)
        total_f += f
        total_fb += fb
        print(f"{name:28s} {f:11.3f} {fb:11.3f}")
        print(json.dumps({"bench": "torch_conv_pool", "layer": name, "threads": args.threads,
                          "batch": args.batch, "forward_ms": round(f, 4),
                          "fwd_bwd_ms": round(fb, 4)}))
    print(f"{'total':28s} {total_f:11.3f} {total_fb:11.3f}")


if __name__ == "__main__":
    main()
