#!/usr/bin/env bash
# Which lines of kernels/cuda never run in the emulated CUDA suite (tests/cuda_emu,
# docs/cuda_emulator.md): a CPU-only build with gcov instrumentation, the suite run once plain and
# once with each HG_EMU_CUBLASLT refusal, then every .cu and .cpp of kernels/cuda listed with
# the lines no test executed. Code listed here has run on no device before a GPU session: a
# kernel there is a test to write first. (Headers are left out: each compiled file reports its
# own use of a header, and gcov keeps one.)
#
#   bash tools/emu_coverage.sh [BUILD_DIR]     (default build-emu-coverage; ~15 min on 2 cores)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=$(realpath -m "${1:-build-emu-coverage}")  # absolute: gcov runs in a folder inside it
command -v gcov >/dev/null || { echo "emu_coverage: needs gcov (gcc)"; exit 1; }
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DHG_ENABLE_CUDA=OFF -DHG_BUILD_EXAMPLES=OFF \
  -DHG_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS=--coverage -DCMAKE_EXE_LINKER_FLAGS=--coverage \
  -DCMAKE_SHARED_LINKER_FLAGS=--coverage >/dev/null
cmake --build "$build" --target hg_test_cuda_emu -j "${JOBS:-$(nproc)}" >/dev/null
find "$build" -name '*.gcda' -delete
exe=$build/tests/cuda_emu/hg_test_cuda_emu
"$exe" >/dev/null 2>&1 || { echo "emu_coverage: the emulated suite failed: run $exe"; exit 1; }
cases="-tc=cuda linear with a bias*,cuda linear: calls of one shape*,cuda conv2d matches*"
for refusal in decline fail-launch; do HG_EMU_CUBLASLT=$refusal "$exe" "$cases" >/dev/null 2>&1; done

out=$build/coverage
rm -rf "$out" && mkdir -p "$out"
objects=$build/tests/cuda_emu/CMakeFiles/hg_cuda_emu.dir
# the emulated copies of the .cu files (src/halfgrad/kernels/cuda), the host .cpp files as they are
for dir in "$objects/src/halfgrad/kernels/cuda" "$objects/__/__/kernels/cuda"; do
  for gcda in "$dir"/*.gcda; do
    [[ -f $gcda ]] || { echo "emu_coverage: no coverage data in $dir"; exit 1; }
    (cd "$out" && gcov -p -o "$dir" "$gcda" >/dev/null 2>&1)
  done
done
# A gcov file lists each line once for the whole file, then again inside a block per template
# instantiation ("-----" then the instantiation's name): only the first kind counts here.
perl -e '
  my ($files, $lines) = (0, 0);
  for my $path (sort glob("'"$out"'/*kernels#cuda#*.{cu,cpp}.gcov")) {
    open(my $fh, "<", $path) or die;
    my @text = <$fh>;
    my ($inside, $executable, @missed) = (0, 0);
    for (my $i = 0; $i < @text; ++$i) {
      if ($text[$i] =~ /^-{5}/) { $inside = ($text[$i + 1] // "") =~ /^[^\s|].*:$/; next; }
      next if $inside || $text[$i] !~ /^\s*([0-9]+\*?|#####|=====):\s*([0-9]+):\s*(.*)$/;
      my ($count, $line, $code) = ($1, $2, $3);
      ++$executable;
      push @missed, sprintf("  %5d: %s", $line, substr($code, 0, 100)) if $count =~ /[#=]/;
    }
    (my $name = $path) =~ s/.*#//;
    $name =~ s/\.gcov$//;
    next unless @missed;
    ++$files, $lines += @missed;
    print "$name: ", scalar(@missed), " of $executable lines never ran\n", join("\n", @missed), "\n";
  }
  print "emu_coverage: $lines lines in $files files of kernels/cuda never ran in the emulated suite\n";
'
