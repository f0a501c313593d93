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
# a flat image (label 3, every byte 200) and a ramp that wraps around 255 (label 9)
flat='\003' ramp='\011'
for ((i = 0; i < 3072; i++)); do
  flat+='\310'
  printf -v esc '\\%03o' $(((i * 7) % 256))
  ramp+=$esc
done
# shellcheck disable=SC2059 # the escapes are the format
printf "$flat$ramp" >>"$dir/records.bin"
"$exe" encode <"$dir/records.bin" >"$dir/packed"
"$exe" decode <"$dir/packed" | cmp - "$dir/records.bin"
: | "$exe" encode >"$dir/empty"
"$exe" decode <"$dir/empty" | cmp - /dev/null
head -c 100 "$dir/records.bin" >"$dir/cut.bin"
if "$exe" encode <"$dir/cut.bin" >/dev/null 2>"$dir/err"; then exit 1; fi
grep -q "100 bytes are not whole CIFAR-10 records of 3073" "$dir/err"
if "$exe" decode <"$dir/records.bin" >/dev/null 2>"$dir/err"; then exit 1; fi
grep -q "does not start with HGCIFAR1" "$dir/err"
head -c 5000 "$dir/packed" >"$dir/cut.hgc"
if "$exe" decode <"$dir/cut.hgc" >/dev/null 2>"$dir/err"; then exit 1; fi
grep -q "the file is cut or corrupt" "$dir/err"
echo "hg_cifar_pack: round trips exact, bad input refused"
