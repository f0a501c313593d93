#pragma once
// Finds the folders of committed fuzz regression inputs (tests/<suite>/fuzz_*/). __FILE__ may be
// spelled relative to the build folder (ccache's base_dir rewrites it), so it is tried as it is
// (ctest runs a suite in build/tests) and then relative to the test binary (build/tests/..) and
// to the current folder (the repository root).
#include <unistd.h>

#include <filesystem>
#include <string>

namespace hg::test {

inline std::filesystem::path regression_inputs(const char* source_file, const std::string& suite,
                                               const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path beside = fs::path(source_file).parent_path() / folder;
  if (fs::is_directory(beside, ec)) return beside;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const fs::path from_exe =
      exe.parent_path().parent_path().parent_path() / "tests" / suite / folder;
  if (!ec && fs::is_directory(from_exe, ec)) return from_exe;
  return fs::path("tests") / suite / folder;
}

}  // namespace hg::test
