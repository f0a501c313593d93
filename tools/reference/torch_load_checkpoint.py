#!/usr/bin/env python3
"""Reads a halfgrad safetensors file with PyTorch alone and evaluates the MNIST cnn in it.

The file is parsed by hand (Debian's PyTorch 1.13 ships no safetensors module): 8-byte
little-endian header length, JSON header, raw little-endian tensors. The cnn of
shared/BENCHMARKS.md is built in torch with the same module names ("0.weight", ...), the
weights are loaded with load_state_dict(strict=True), and the MNIST test accuracy is printed,
so it can be compared with what halfgrad reported for the same file.

    /usr/bin/python3 tools/reference/torch_load_checkpoint.py model.safetensors datasets/mnist
"""
import json
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "F64": torch.float64, "I64": torch.int64, "U8": torch.uint8, "BOOL": torch.bool}


def load_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = bytearray(body[begin:end])
        t = torch.frombuffer(raw, dtype=DTYPES[entry["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[entry["dtype"]])
        tensors[name] = t.reshape(entry["shape"]).clone()
    return tensors, header.get("__metadata__", {})


def cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(3136, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))


def read_idx(path):
    raw = open(path, "rb").read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    tensors, meta = load_safetensors(sys.argv[1])
    state = {k[len("model."):] if k.startswith("model.") else k: v for k, v in tensors.items()
             if not k.startswith("optim.")}
    model = cnn()
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    images = read_idx(f"{sys.argv[2]}/t10k-images-idx3-ubyte").astype(np.float32) / 255.0
    labels = torch.from_numpy(read_idx(f"{sys.argv[2]}/t10k-labels-idx1-ubyte").astype(np.int64))
    mean = float(meta.get("train.pixel_mean", 0.1307))
    std = float(meta.get("train.pixel_std", 0.3081))
    x = (torch.from_numpy(images).unsqueeze(1) - mean) / std
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == labels).float().mean().item()
    print(f"{len(state)} tensors loaded strictly by torch {torch.__version__}; metadata {meta}")
    print(f"MNIST test accuracy in PyTorch: {accuracy:.4f}")


if __name__ == "__main__":
    main()
