#pragma once
// Shared by the fuzz targets: every input must either parse or throw hg::Error; anything else
// (a crash, a sanitizer report, another exception type escaping) is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace hg::fuzz {

// With HG_FUZZ_SEED_DIR set, LLVMFuzzerInitialize writes valid inputs there (tools/fuzz.sh
// seeds each corpus that way); returns the folder or "".
inline std::string seed_dir() {
  const char* dir = std::getenv("HG_FUZZ_SEED_DIR");
  return dir ? dir : "";
}

inline void write_seed(const std::string& path, const std::vector<uint8_t>& bytes) {
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
}

inline std::vector<uint8_t> read_all(const std::string& path) {
  std::vector<uint8_t> out;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    int c;
    while ((c = std::fgetc(f)) != EOF) out.push_back(static_cast<uint8_t>(c));
    std::fclose(f);
  }
  return out;
}

}  // namespace hg::fuzz
