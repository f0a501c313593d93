# Sourced by the emulator's hg_mnist smoke tests: write_fake_mnist DIR writes a synthetic MNIST
# folder (256 training and 64 test images of random pixels, labels 0-9 in turn) in IDX format.
be32() {  # a 32-bit big-endian integer
  local byte
  for byte in $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); do
    printf "\\$(printf '%03o' "$byte")"
  done
}
idx() {  # idx FILE MAGIC COUNT [ROWS COLS]: an IDX header, then random pixels or labels 0-9
  local file=$1 magic=$2 count=$3 size=1 word
  {
    for word in "$magic" "$count" "${@:4}"; do be32 "$word"; done
    for word in "${@:4}"; do size=$((size * word)); done
    if (($# > 3)); then head -c $((count * size)) /dev/urandom; else
      for ((i = 0; i < count; i++)); do printf "\\x0$((i % 10))"; done
    fi
  } >"$file"
}
write_fake_mnist() {
  idx "$1/train-images-idx3-ubyte" 2051 256 28 28
  idx "$1/train-labels-idx1-ubyte" 2049 256
  idx "$1/t10k-images-idx3-ubyte" 2051 64 28 28
  idx "$1/t10k-labels-idx1-ubyte" 2049 64
}
