"""ResNet-9's 3x3 convolutions at batch 512 in PyTorch on the GPU (cuDNN), NCHW and channels-last:
the reference for bench/bench_conv_cuda.cpp (the same layers, forward and forward + backward,
ms of GPU time by CUDA events). Prints the same JSON lines. Usage: torch_conv_cuda.py [--quick]"""
import json
import sys

import torch

from torch_cuda_ref import time_ms  # bench/ is on the path when this script runs

LAYERS = [("prep 3->64 32x32", 3, 64, 32), ("layer1 64->128 32x32", 64, 128, 32), ("res1 128->128 16x16", 128, 128, 16),
          ("layer2 128->256 16x16", 128, 256, 16), ("layer3 256->512 8x8", 256, 512, 8),
          ("res3 512->512 4x4", 512, 512, 4)]


def main():
    quick = "--quick" in sys.argv
    if not torch.cuda.is_available():
        print("torch_conv_cuda: no CUDA device")
        return
    batch, iters = (64, 3) if quick else (512, 20)
    torch.backends.cudnn.benchmark = True
    for dtype in (torch.float16, torch.bfloat16):
        for name, cin, cout, size in LAYERS:
            for layout in ("nchw", "channels_last"):
                fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
                conv = torch.nn.Conv2d(cin, cout, 3, padding=1, bias=False).cuda().to(dtype)
                conv = conv.to(memory_format=fmt)
                x = torch.randn(batch, cin, size, size, device="cuda", dtype=dtype)
                x = x.to(memory_format=fmt).requires_grad_(True)
                grad = torch.randn(batch, cout, size, size, device="cuda", dtype=dtype)
                grad = grad.to(memory_format=fmt)
                with torch.no_grad():
                    forward = time_ms(lambda: conv(x), iters)

                def train():
                    x.grad = None
                    conv.weight.grad = None
                    conv(x).backward(grad)

                flop = 2.0 * batch * cout * size * size * cin * 9
                t = time_ms(train, iters)
                print(json.dumps({"bench": "conv3x3", "impl": "torch " + layout, "layer": name,
                                  "dtype": str(dtype).replace("torch.", ""), "batch": batch,
                                  "forward_ms": round(forward, 4), "train_ms": round(t, 4),
                                  "forward_tflops": round(flop / forward / 1e9, 1),
                                  "train_tflops": round(3 * flop / t / 1e9, 1)}))


if __name__ == "__main__":
    main()
