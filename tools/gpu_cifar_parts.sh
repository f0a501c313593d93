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

# The path of hg_cifar_pack: a build's (the bundle's build-gpu, or build), else compiled from
# tools/cifar_pack.cpp into a temporary folder (standalone: any C++17 compiler).
codec() {
  local b
  for b in build-gpu build; do
    [[ -x $b/tools/hg_cifar_pack ]] && { echo "$b/tools/hg_cifar_pack"; return; }
  done
  local tmp
  tmp=$(mktemp -d)
  "${CXX:-c++}" -std=c++17 -O2 -o "$tmp/hg_cifar_pack" tools/cifar_pack.cpp >&2
  echo "$tmp/hg_cifar_pack"
}

if [[ ${1:-} == unpack ]]; then
  if [[ ! -f ${2:-}/md5sums.txt ]]; then
    echo "gpu_cifar_parts: '${2:-}' is not a part packed by tools/gpu_cifar_parts.sh (no md5sums.txt): carry one, e.g. .gpu_cifar1" >&2
    exit 1
  fi
  exe=$(codec)
  mkdir -p datasets/cifar10
  for f in "$2"/*.hgc.xz; do
    bash tools/unxz.sh "$f" | "$exe" decode >"datasets/cifar10/$(basename "$f" .hgc.xz)"
  done
  (cd datasets/cifar10 && md5sum -c --ignore-missing "$OLDPWD/$2/md5sums.txt")
  ls -la datasets/cifar10
  exit 0
fi

max=$((${MAX_MB:-50} << 20))
src=datasets/cifar10
[[ -f $src/test_batch.bin ]] || { echo "gpu_cifar_parts: no $src (bash tools/fetch_data.sh cifar10)"; exit 1; }
exe=$(codec)
rm -rf .gpu_cifar[0-9]*
part=1 used=0
mkdir -p ".gpu_cifar$part"
packed=/tmp/gpu_cifar_$$.xz
trap 'rm -f "$packed"' EXIT
for f in "$src"/data_batch_{1..5}.bin "$src"/test_batch.bin; do
  "$exe" encode <"$f" | xz -T0 -6 -c >"$packed"
  size=$(stat -c %s "$packed")
  if ((used > 0 && used + size > max)); then part=$((part + 1)) used=0; mkdir -p ".gpu_cifar$part"; fi
  mv "$packed" ".gpu_cifar$part/$(basename "$f").hgc.xz"
  (cd "$src" && md5sum "$(basename "$f")") >>".gpu_cifar$part/md5sums.txt"
  used=$((used + size))
done
du -sh .gpu_cifar[0-9]*
