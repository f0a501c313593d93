#!/usr/bin/env python3
"""PyTorch reference for bench/bench_cuda.cpp: the same GEMMs and elementwise/cast ops, timed
the same way (CUDA events around a loop, median of 3 rounds), and the host's time per eager op
on tiny tensors, and a stable sort along rows, printed as the same JSON lines.

    python3 bench/torch_cuda_ref.py [--quick]
"""
import json
import sys
import time

import torch


def time_ms(fn, iters, rounds=3):
    fn()
    fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(rounds):
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        stop.record()
        stop.synchronize()
        samples.append(start.elapsed_time(stop) / iters)
    samples.sort()
    return samples[len(samples) // 2]


def main():
    quick = "--quick" in sys.argv
    if not torch.cuda.is_available():
        print("torch_cuda_ref: no CUDA device")
        return
    # Same numerics as halfgrad's defaults: fp32 accumulation without reduced-precision split-K.
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    names = {torch.float16: "float16", torch.bfloat16: "bfloat16", torch.float32: "float32"}
    for dtype in (torch.float16, torch.bfloat16):
        for n in ((1024, 2048) if quick else (4096, 8192)):
            a = torch.randn(n, n, device="cuda", dtype=dtype)
            b = torch.randn(n, n, device="cuda", dtype=dtype)
            ms = time_ms(lambda: torch.matmul(a, b), 10 if n >= 8192 else 40)
            print(json.dumps({"bench": "gemm", "impl": "torch", "dtype": names[dtype], "n": n,
                              "ms": round(ms, 4), "tflops": round(2 * n ** 3 / (ms * 1e-3) / 1e12, 1)}))
    n = (1 << 22) if quick else (1 << 26)
    src = torch.empty(n * 4, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms = time_ms(lambda: dst.copy_(src), 20)
    copy_gbps = 2 * n * 4 / (ms * 1e-3) / 1e9
    print(json.dumps({"bench": "d2d_copy", "impl": "torch", "bytes": n * 4, "ms": round(ms, 4),
                      "gbps": round(copy_gbps, 1)}))
    cases = [
        ("add", torch.float32, torch.float32, 2, lambda a, b: a + b),
        ("add", torch.float16, torch.float16, 2, lambda a, b: a + b),
        ("mul", torch.bfloat16, torch.bfloat16, 2, lambda a, b: a * b),
        ("relu", torch.float16, torch.float16, 1, lambda a, b: torch.relu(a)),
        ("gelu", torch.bfloat16, torch.bfloat16, 1, lambda a, b: torch.nn.functional.gelu(a)),
        # (no "affine": eager PyTorch has no one-pass a * s + t on a tensor and two scalars)
        ("cast", torch.float32, torch.float16, 1, lambda a, b: a.to(torch.float16)),
        ("cast", torch.float16, torch.float32, 1, lambda a, b: a.to(torch.float32)),
        ("cast", torch.float32, torch.bfloat16, 1, lambda a, b: a.to(torch.bfloat16)),
        ("cast", torch.bfloat16, torch.float32, 1, lambda a, b: a.to(torch.float32)),
    ]
    with torch.no_grad():
        for name, din, dout, inputs, fn in cases:
            a = torch.randn(n, device="cuda", dtype=din)
            b = torch.randn(n, device="cuda", dtype=din)
            ms = time_ms(lambda: fn(a, b), 20)
            size_in = torch.tensor([], dtype=din).element_size()
            size_out = torch.tensor([], dtype=dout).element_size()
            gbps = n * (inputs * size_in + size_out) / (ms * 1e-3) / 1e9
            label = f"{name} {names[din]}->{names[dout]}"
            print(json.dumps({"bench": "elementwise", "impl": "torch", "op": label, "n": n,
                              "ms": round(ms, 4), "gbps": round(gbps, 1),
                              "of_copy": round(gbps / copy_gbps, 3)}))

    # bench_cuda.cpp's bench_sort: stable sort along rows, ms per call
    for dtype, rows, cols in ((torch.float32, 16 if quick else 256, 50000),
                              (torch.float16, 2 if quick else 16, 1 << 20)):
        x = torch.randn(rows, cols, device="cuda", dtype=dtype)
        ms = time_ms(lambda: torch.sort(x, dim=1, stable=True), 10)
        print(json.dumps({"bench": "sort", "impl": "torch", "dtype": names[dtype], "n": cols,
                          "op": f"{rows}x{cols}", "ms": round(ms, 4)}))

    host_overhead(500 if quick else 5000)


def host_us(fn, iters):
    """Host microseconds per call: calls back to back, one synchronisation at the end."""
    for _ in range(200):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / iters * 1e6


def host_overhead(iters):
    """bench_cuda.cpp's bench_host_overhead: the same four calls on the same shapes."""
    f = torch.nn.functional
    a, b = torch.randn(4, device="cuda"), torch.randn(4, device="cuda")
    w = torch.randn(4, device="cuda", requires_grad=True)
    x = torch.randn(4, 16, device="cuda")
    w1 = torch.randn(16, 16, device="cuda", requires_grad=True)
    b1 = torch.zeros(16, device="cuda", requires_grad=True)
    w2 = torch.randn(4, 16, device="cuda")

    def no_grad(fn):
        def run():
            with torch.no_grad():
                fn()
        return run

    cases = [
        ("add [4] no grad", no_grad(lambda: a + b)),
        ("add [4] taped", lambda: a + w),
        ("linear [4,16] x [16,16] + bias no grad", no_grad(lambda: f.linear(x, w1, b1))),
        ("tiny mlp forward + backward",
         lambda: f.linear(torch.relu(f.linear(x, w1, b1)), w2).sum().backward()),
    ]
    for name, fn in cases:
        print(json.dumps({"bench": "host_overhead", "impl": "torch", "op": name,
                          "us": round(host_us(fn, iters), 2)}))


if __name__ == "__main__":
    main()
