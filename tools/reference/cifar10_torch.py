#!/usr/bin/env python3
"""The CIFAR-10 recipe of examples/cifar10 (docs/cifar10.md) in PyTorch, for a side-by-side check
that halfgrad's implementation of it trains the same way: same data subset, normalisation,
augmentation (zero-padded random crop + flip), ResNet-9 (bench/torch_ref.py's), label-smoothed
cross-entropy, SGD nesterov with weight decay on every parameter, and the linear one-cycle
schedule stepped per step (OneCycleLR, linear, div 100, final div 1e4, no momentum cycling, one
spare step as hg_cifar10 has). A reference script only: never a build or test dependency.

  python3 tools/reference/cifar10_torch.py --limit 10000 --test-limit 2000 --epochs 10
"""
import argparse
import json
import pathlib
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
from torch_ref import make  # noqa: E402  (the BENCHMARKS.md models)


def load_split(folder, names, limit):
    raw = torch.cat([torch.frombuffer(bytearray((folder / n).read_bytes()), dtype=torch.uint8)
                     .reshape(-1, 3073) for n in names])
    if limit:
        raw = raw[:limit]
    labels = raw[:, 0].long()
    images = raw[:, 1:].reshape(-1, 3, 32, 32).float() / 255.0
    return images, labels


def augment(batch, generator):
    """Random 32x32 crop of the zero-padded (4 px) image, then a horizontal flip with p 0.5."""
    n = batch.shape[0]
    padded = nn.functional.pad(batch, (4, 4, 4, 4))
    dx = torch.randint(0, 9, (n,), generator=generator)
    dy = torch.randint(0, 9, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(batch)
    for i in range(n):
        crop = padded[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32]
        out[i] = crop.flip(2) if flip[i] else crop
    return out


def evaluate(model, images, labels, batch):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(labels), batch):
            correct += (model(images[i:i + batch]).argmax(1) == labels[i:i + batch]).sum().item()
    model.train()
    return correct / len(labels)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="datasets/cifar10")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--test-limit", type=int, default=0)
    p.add_argument("--epochs", type=int, default=24)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--lr", type=float, default=0.4)
    p.add_argument("--warmup", type=float, default=0.2)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-batch", type=int, default=500)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    folder = pathlib.Path(args.data)
    train_x, train_y = load_split(folder, [f"data_batch_{i}.bin" for i in range(1, 6)], args.limit)
    test_x, test_y = load_split(folder, ["test_batch.bin"], args.test_limit)
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std

    model = make("resnet9")
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                          weight_decay=args.weight_decay)
    steps_per_epoch = len(train_y) // args.batch  # the last incomplete batch is dropped
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch + 1, pct_start=args.warmup,
        anneal_strategy="linear", div_factor=100.0, final_div_factor=1e4, cycle_momentum=False)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    generator = torch.Generator().manual_seed(args.seed)
    started = time.time()
    for epoch in range(1, args.epochs + 1):
        t0, total = time.time(), 0.0
        order = torch.randperm(len(train_y), generator=generator)
        for s in range(steps_per_epoch):
            idx = order[s * args.batch:(s + 1) * args.batch]
            x, y = augment(train_x[idx], generator), train_y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            schedule.step()
            total += loss.item()
        seconds = time.time() - t0
        acc = evaluate(model, test_x, test_y, args.eval_batch)
        print(json.dumps({"type": "epoch", "framework": "pytorch " + torch.__version__,
                          "epoch": epoch, "train_loss": round(total / steps_per_epoch, 4),
                          "test_acc": acc, "seconds": round(seconds, 1),
                          "elapsed": round(time.time() - started, 1)}), flush=True)


if __name__ == "__main__":
    main()
