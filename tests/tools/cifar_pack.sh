#!/usr/bin/env bash
# tools/cifar_pack.cpp (hg_cifar_pack): encode then decode gives back the records byte for byte
# (random pixels, whose residuals take every byte value, and flat and ramp images); a file of no
# whole number of records, or one encode did not make, is refused with a message.
#   bash cifar_pack.sh PATH/TO/hg_cifar_pack
set -euo pipefail
exe=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
head -c $((3073 * 7)) /dev/urandom >"$dir/records.bin"
python3 - "$dir/records.bin" <<'PY'
import sys
flat = bytes([3]) + bytes([200]) * 3072                        # label 3, one colour
ramp = bytes([9]) + bytes((i * 7) % 256 for i in range(3072))  # wraps around 255
with open(sys.argv[1], "ab") as f:
    f.write(flat + ramp)
PY
"$exe" encode <"$dir/records.bin" >"$dir/packed"
"$exe" decode <"$dir/packed" | cmp - "$dir/records.bin"
: | "$exe" encode >"$dir/empty" && "$exe" decode <"$dir/empty" | cmp - /dev/null
head -c 100 "$dir/records.bin" >"$dir/cut.bin"
if "$exe" encode <"$dir/cut.bin" >/dev/null 2>"$dir/err"; then exit 1; fi
grep -q "100 bytes are not whole CIFAR-10 records of 3073" "$dir/err"
if "$exe" decode <"$dir/records.bin" >/dev/null 2>"$dir/err"; then exit 1; fi
grep -q "does not start with HGCIFAR1" "$dir/err"
head -c 5000 "$dir/packed" >"$dir/cut.hgc"
if "$exe" decode <"$dir/cut.hgc" >/dev/null 2>"$dir/err"; then exit 1; fi
grep -q "the file is cut or corrupt" "$dir/err"
echo "hg_cifar_pack: round trips exact, bad input refused"
