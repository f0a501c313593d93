#!/usr/bin/env bash
# rewrite_launches.pl stops the build where it cannot rewrite: a launch its pattern misses, and
# a launch without a stream, inline assembly without a stand-in. Each case must fail and name why.
#   rewrite_refusals.sh PERL REWRITE_SCRIPT
set -euo pipefail
perl=$1 rewrite=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
expect_refusal() {  # expect_refusal NAME SOURCE MESSAGE
  printf '%s\n' "$2" > "$dir/$1.cu"
  if "$perl" "$rewrite" "$dir/$1.cu" "$dir/$1.out" 2> "$dir/$1.err"; then
    echo "rewrite_refusals: $1 was rewritten, not refused"; exit 1
  fi
  grep -q "$3" "$dir/$1.err" || { echo "rewrite_refusals: $1: $(cat "$dir/$1.err")"; exit 1; }
}
expect_refusal launch 'void f() { (kernel)<<<1, 32>>>(); }' "a launch the pattern missed"
expect_refusal stream 'void f() { kernel<<<grid_for(n, 2), 32>>>(x); }' "launches kernel without a stream"
expect_refusal asm 'float f(float v) { float r; asm("rcp.approx.f32 %0, %1;" : "=f"(r) : "f"(v)); return r; }' \
  "inline assembly the emulator does not know"
# and what it can rewrite, it does: a launch in a comment stays, the code's launch is rewritten
printf '%s\n' '// kernel<<<1, 1>>>() in a comment' 'void f() { kernel<T><<<grid, 256, 0, s>>>(x, n); }' \
  > "$dir/ok.cu"
"$perl" "$rewrite" "$dir/ok.cu" "$dir/ok.out"
grep -q '::hg_emu::launch_named("kernel", ::hg_emu::LaunchConfig{grid, 256, 0, s}, \[\](auto... hg_emu_arg) { kernel<T>(hg_emu_arg...); }, x, n)' "$dir/ok.out" ||
  { echo "rewrite_refusals: the launch was not rewritten: $(cat "$dir/ok.out")"; exit 1; }
echo "rewrite_refusals: refused all three, rewrote the launch"
