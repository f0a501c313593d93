#!/usr/bin/env bash
# Where a training step's GPU time goes, halfgrad beside PyTorch, on the GPU machine: the kernels
# of bench_models' step under Nsight Compute (one metric, the kernel's duration; a per-kernel
# summary) and PyTorch's step under torch.profiler (its CUDA time per kernel). Run after
# tools/gpu_bundle.sh, with carry [".gpu_bundle"] (it unpacks the bundle through gpu_check.sh).
#
#   bash tools/gpu_profile.sh                                   # resnet9 512 fp16
#   CONFIGS="resnet9:512:fp16 mlp:128:bf16 cnn:128:fp32" bash tools/gpu_profile.sh
#   CONFIGS="resnet9:512:fp16:O2:igemm mlp:128:bf16:O2" ...   # opt level; implicit-GEMM convs
#
# Per configuration (model:batch:precision[:opt level[:igemm]]): ncu_<name>.csv, torch_<name>.txt and the step's
# time without a profiler; profile_top.txt has the costliest kernels of each (halfgrad and
# PyTorch), which the output tail shows too. Written to build-gpu-profile/; with $OUT set (a
# device call), profile_top.txt and profile.tar.gz of the rest go there (2 files).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
configs=${CONFIGS:-resnet9:512:fp16}
work=build-gpu-profile  # (not gpu_check.sh's log folder, which it empties first)
rm -rf "$work" && mkdir -p "$work"
source tools/gpu_env.sh && gpu_env "$work/profile_setup.log"
top=$work/profile_top.txt
: >"$top"

# halfgrad's kernels of one step, the costliest 40, from ncu's per-kernel summary
summarize_ncu() {
  python3 - "$1" <<'PY'
import csv, sys, collections
rows = list(csv.reader(l for l in open(sys.argv[1]) if l.startswith('"')))
if not rows:
    sys.exit("no ncu rows (see the .err file)")
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
print(f"halfgrad, ms in the profiled step: total {sum(total.values()):.3f}, "
      f"{sum(count.values()):.0f} kernels")
for name, ms in total.most_common(40):
    print(f"{ms:8.3f} ms {count[name]:6.0f}x  {name}")
PY
}

# PyTorch's step under torch.profiler (3 steps after 5), the same model, batch and precision
profile_torch() {
  timeout 120 python3 - "$@" <<'PY'
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
}

for config in $configs; do
  IFS=: read -r model batch precision level conv <<<"$config"
  name=${model}_${batch}_$precision${level:+_$level}${conv:+_$conv}
  args=(--model "$model" --batch "$batch" --precision "$precision" --device cuda)
  [[ -n $level ]] && args+=(--opt-level "$level")
  # "igemm": the implicit-GEMM convolutions (off by default until measured)
  if [[ $conv == igemm ]]; then export HG_CONV_IMPLICIT_GEMM=1; else unset HG_CONV_IMPLICIT_GEMM; fi
  echo "== $name" | tee -a "$top"
  # One step, not warmed up (kernel durations do not depend on it): the counts are per step.
  timeout 240 ncu --clock-control none --metrics gpu__time_duration.sum --print-summary \
    per-kernel --csv build-gpu/bench/bench_models "${args[@]}" --warmup 0 --steps 1 \
    >"$work/ncu_$name.csv" 2>"$work/ncu_$name.err"
  echo "ncu rc=$?"
  summarize_ncu "$work/ncu_$name.csv" >>"$top" 2>&1
  profile_torch "$model" "$batch" "$precision" >"$work/torch_$name.txt" 2>&1
  echo "torch profile rc=$?"
  echo "PyTorch (torch.profiler, 3 steps):" >>"$top"
  head -n 25 "$work/torch_$name.txt" >>"$top"
  echo "the step without a profiler (eager, then graphed):" >>"$top"
  build-gpu/bench/bench_models "${args[@]}" 2>&1 | tail -n 1 >>"$top"
  build-gpu/bench/bench_models "${args[@]}" --graph 2>&1 | tail -n 1 >>"$top"
done
cat "$top"
if [[ -n ${OUT:-} ]]; then
  cp "$top" "$OUT/"
  tar -czf "$OUT/profile.tar.gz" -C "$work" --exclude profile_top.txt .
fi
