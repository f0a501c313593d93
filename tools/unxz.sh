#!/usr/bin/env bash
# Decompresses an .xz file to standard output: xz where it is installed, else Python's lzma (the
# GPU machine's image may lack xz). Used by gpu_check.sh and gpu_cifar_parts.sh.
#
#   bash tools/unxz.sh FILE.xz > FILE
set -euo pipefail
if command -v xz >/dev/null; then
  exec xz -dc "$1"
fi
exec python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
