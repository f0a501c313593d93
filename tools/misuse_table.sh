#!/usr/bin/env bash
# Prints the misuse table of docs/reliability.md from the tests themselves: every misuse case
# (tests/*/test_misuse.cpp) appends its row with the message it actually got.
#
#   bash tools/misuse_table.sh [BUILD_DIR]      # default: build
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
table=$(mktemp)
trap 'rm -f "$table"' EXIT
for suite in core autograd nn optim amp; do
  HG_MISUSE_TABLE=$table "$build/tests/hg_test_$suite" -tc='misuse*' >/dev/null 2>&1 ||
    { echo "misuse_table: hg_test_$suite failed" >&2; exit 1; }
done
echo "| area | mistake | kind | message |"
echo "| --- | --- | --- | --- |"
cat "$table"
echo
echo "$(wc -l <"$table") cases"
