#!/usr/bin/env bash
# Packs CIFAR-10 (datasets/cifar10, the official binary files) for the GPU machine, which has no
# network: 180 MB do not fit in the 64 MiB one device call may carry, so the six files go in
# parts, .gpu_cifar1 .. .gpu_cifarN (git-ignored), at most MAX_MB MiB (default 50) each, one part
# per call while the machine stays warm (files written there outside git survive between calls).
# Each file is tools/cifar_pack.cpp's prediction residuals, xz-compressed: 17 MB a batch instead
# of 22.5 MB with xz alone, so three batches make a part and two parts carry the set.
# tools/gpu_cifar.sh unpacks the part of each call and trains once all are there
# (docs/gpu_session.md, "CIFAR-10 on the GPU"):
#
#   bash tools/gpu_cifar_parts.sh            pack (here)
#   bash tools/gpu_cifar_parts.sh unpack D   unpack part D into datasets/cifar10 (there)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Sets `codec` to hg_cifar_pack: a build's (the bundle's build-gpu, or build), else one compiled
# from tools/cifar_pack.cpp into a temporary folder (standalone: any C++17 compiler). Not in a
# subshell, so a failed compile stops the script (set -e).
find_codec() {
  local b
  for b in build-gpu build; do
    if [[ -x $b/tools/hg_cifar_pack ]]; then
      codec=$b/tools/hg_cifar_pack
      return
    fi
  done
  scratch=$(mktemp -d)
  "${CXX:-c++}" -std=c++17 -O2 -o "$scratch/hg_cifar_pack" tools/cifar_pack.cpp
  codec=$scratch/hg_cifar_pack
}
scratch=""
partial=""
trap 'rm -rf "${scratch:-/nonexistent}" "${packed:-/nonexistent}" "${partial:-/nonexistent}"' EXIT

if [[ ${1:-} == unpack ]]; then
  if [[ ! -f ${2:-}/md5sums.txt ]]; then
    echo "gpu_cifar_parts: '${2:-}' is not a part packed by tools/gpu_cifar_parts.sh (no md5sums.txt): carry one, e.g. .gpu_cifar1" >&2
    exit 1
  fi
  find_codec
  mkdir -p datasets/cifar10
  # decoded under a .part name, renamed once its md5 sum is checked: a failed or cut unpack
  # leaves no batch that tools/gpu_cifar.sh would count as there
  for f in "$2"/*.hgc.xz; do
    name=$(basename "$f" .hgc.xz)
    partial=datasets/cifar10/$name.part
    bash tools/unxz.sh "$f" | "$codec" decode >"$partial"
    sum=$(md5sum <"$partial" | cut -d' ' -f1)
    if ! grep -qx "$sum  $name" "$2/md5sums.txt"; then
      echo "gpu_cifar_parts: $name from $f has md5 $sum, not the one in $2/md5sums.txt" >&2
      exit 1
    fi
    mv "$partial" "datasets/cifar10/$name"
    echo "gpu_cifar_parts: $name unpacked, md5 sum checked"
  done
  exit 0
fi

max=$((${MAX_MB:-50} << 20))
src=datasets/cifar10
[[ -f $src/test_batch.bin ]] || { echo "gpu_cifar_parts: no $src (bash tools/fetch_data.sh cifar10)"; exit 1; }
find_codec
rm -rf .gpu_cifar[0-9]*
part=1 used=0
mkdir -p ".gpu_cifar$part"
packed=/tmp/gpu_cifar_$$.xz
for f in "$src"/data_batch_{1..5}.bin "$src"/test_batch.bin; do
  "$codec" encode <"$f" | xz -T0 -6 -c >"$packed"
  size=$(stat -c %s "$packed")
  if ((used > 0 && used + size > max)); then part=$((part + 1)) used=0; mkdir -p ".gpu_cifar$part"; fi
  mv "$packed" ".gpu_cifar$part/$(basename "$f").hgc.xz"
  (cd "$src" && md5sum "$(basename "$f")") >>".gpu_cifar$part/md5sums.txt"
  used=$((used + size))
done
du -sh .gpu_cifar[0-9]*
# What each call sends: the tracked tree, the bundle (gpu_bundle.sh: pack it first) and one part,
# 64 MiB at most (the device tool refuses a larger working tree before it starts a machine).
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1)
bundle=0
[[ -d .gpu_bundle ]] && bundle=$(du -sb .gpu_bundle | cut -f1)
over=0
for d in .gpu_cifar[0-9]*; do
  total=$((tree + bundle + $(du -sb "$d" | cut -f1)))
  echo "gpu_cifar_parts: a call carrying $d sends $((total >> 20)) MiB of 64 (tree, .gpu_bundle, $d)"
  ((total <= 64 << 20)) || over=1
done
((bundle > 0)) || echo "gpu_cifar_parts: no .gpu_bundle yet: add its size (~12 MiB without MNIST)"
if ((over)); then
  echo "gpu_cifar_parts: over 64 MiB: pack again with a smaller MAX_MB (e.g. MAX_MB=35: three parts)" >&2
  exit 1
fi
