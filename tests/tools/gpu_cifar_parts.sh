#!/usr/bin/env bash
# tools/gpu_cifar_parts.sh on six small synthetic batches, in a scratch git repository: the
# parts unpack to the same bytes; a cut part or a wrong md5 sum fails the unpack and leaves no
# batch (and no .part file) behind. Exit 77 (skipped) without xz.
#   bash gpu_cifar_parts.sh REPO_ROOT PATH/TO/hg_cifar_pack
set -euo pipefail
repo=$1 exe=$2
command -v xz >/dev/null || { echo "no xz: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/tools" "$dir/build/tools" "$dir/datasets/cifar10"
cp "$repo/tools/gpu_cifar_parts.sh" "$repo/tools/unxz.sh" "$dir/tools/"
cp "$exe" "$dir/build/tools/hg_cifar_pack"
cd "$dir"
git init -q . && git add tools  # the script counts the tracked tree in what a call sends
batches=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin
         test_batch.bin)
for f in "${batches[@]}"; do head -c $((3073 * 3)) /dev/urandom >"datasets/cifar10/$f"; done
(cd datasets/cifar10 && md5sum "${batches[@]}") >want.md5
bash tools/gpu_cifar_parts.sh >/dev/null
[[ -f .gpu_cifar1/md5sums.txt && ! -d .gpu_cifar2 ]]  # small batches: one part

unpack() {  # unpack PART into an empty datasets/cifar10; the script's exit status
  rm -rf datasets/cifar10
  bash tools/gpu_cifar_parts.sh unpack "$1" >/dev/null 2>&1
}
unpack .gpu_cifar1
(cd datasets/cifar10 && md5sum -c --quiet "$dir/want.md5")

cp -r .gpu_cifar1 cut && head -c 100 .gpu_cifar1/test_batch.bin.hgc.xz >cut/test_batch.bin.hgc.xz
if unpack cut; then echo "a cut part unpacked"; exit 1; fi
[[ ! -e datasets/cifar10/test_batch.bin && ! -e datasets/cifar10/test_batch.bin.part ]]

cp -r .gpu_cifar1 wrong && sed -i 's/^[0-9a-f]\{8\}/00000000/' wrong/md5sums.txt
if unpack wrong; then echo "a part with wrong md5 sums unpacked"; exit 1; fi
[[ -z $(ls datasets/cifar10) ]]
echo "gpu_cifar_parts: parts round-trip; a cut part or a wrong md5 leaves no batch"
