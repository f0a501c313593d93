#!/usr/bin/env bash
# Where a training step's GPU time goes, halfgrad beside PyTorch, on the GPU machine: the kernels
# of bench_models' step under Nsight Compute (one metric, the kernel's duration; a per-kernel
# summary) and PyTorch's step under torch.profiler (its CUDA time per kernel). Run after
# tools/gpu_bundle.sh, with carry [".gpu_bundle"] (it unpacks the bundle through gpu_check.sh).
#
#   MODEL=resnet9 BATCH=512 PRECISION=fp16 bash tools/gpu_profile.sh
#
# Writes to $OUT (or build-gpu-profile/): ncu_<model>_<precision>.csv, torch_<model>_<precision>.txt
# and a short table of the costliest kernels of each (profile_top.txt).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
model=${MODEL:-resnet9} batch=${BATCH:-512} precision=${PRECISION:-fp16}
out=${OUT:-build-gpu-profile}  # (not gpu_check.sh's log folder, which it empties first)
mkdir -p "$out"
source tools/gpu_env.sh && gpu_env "$out/profile_setup.log"
name=${model}_$precision
# One step, not warmed up (kernel durations do not depend on it): the counts are per step.
timeout 240 ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
  --csv build-gpu/bench/bench_models --model "$model" --batch "$batch" --precision "$precision" \
  --device cuda --warmup 0 --steps 1 >"$out/ncu_$name.csv" 2>"$out/ncu_$name.err"
echo "ncu rc=$?"
timeout 120 python3 - "$model" "$batch" "$precision" >"$out/torch_$name.txt" 2>&1 <<'PY'
import sys
sys.path.insert(0, "bench")
import torch
from torch_ref import make
model_name, batch, precision = sys.argv[1], int(sys.argv[2]), sys.argv[3]
model = make(model_name).cuda()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
shape = (batch, 3, 32, 32) if model_name == "resnet9" else (batch, 1, 28, 28)
x, y = torch.randn(shape, device="cuda"), torch.randint(0, 10, (batch,), device="cuda")
dtype = torch.bfloat16 if precision == "bf16" else torch.float16
def step():
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=dtype, enabled=precision != "fp32"):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
for _ in range(5):
    step()
torch.cuda.synchronize()
from torch.profiler import profile, ProfilerActivity
with profile(activities=[ProfilerActivity.CUDA]) as prof:
    for _ in range(3):
        step()
    torch.cuda.synchronize()
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=40, max_name_column_width=90))
PY
echo "torch profile rc=$?"
python3 - "$out/ncu_$name.csv" >"$out/profile_top.txt" 2>&1 <<'PY'
import csv, sys, collections
# ncu's per-kernel summary: one row per (kernel, metric) with the invocation count and average.
rows = list(csv.reader(l for l in open(sys.argv[1]) if l.startswith('"')))
head, body = rows[0], rows[1:]
col = {n: i for i, n in enumerate(head)}
total = collections.Counter()
count = collections.Counter()
for r in body:
    if r[col["Metric Name"]] != "gpu__time_duration.sum":
        continue
    name = r[col["Kernel Name"]][:110]
    n = int(r[col.get("Invocations", col.get("ID", 0))].replace(",", "") or 0)
    avg = float(r[col["Average"]].replace(",", ""))
    unit = r[col["Metric Unit"]]
    scale = {"nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "second": 1e3}.get(unit, 1e-6)
    total[name] += n * avg * scale
    count[name] += n
print(f"halfgrad, ms in the profiled step: total {sum(total.values()):.2f}")
for name, ms in total.most_common(40):
    print(f"{ms:8.3f} ms {count[name]:6.0f}x  {name}")
PY
cat "$out/profile_top.txt"
tail -n 50 "$out/torch_$name.txt"
echo "the step without the profiler:"
build-gpu/bench/bench_models --model "$model" --batch "$batch" --precision "$precision" --device cuda
