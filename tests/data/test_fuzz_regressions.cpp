// Inputs on which the fuzz targets (fuzz/, tools/fuzz.sh) once found a bug, kept next to this
// file (fuzz_idx/, fuzz_cifar10/): each must now give an hg::Error or a valid result. The first
// case also holds its bytes inline, so it runs wherever the test binary runs.
#include <filesystem>
#include <fstream>
#include <iterator>

#include "regression_inputs.h"
#include "test_util.h"

using hg::test::expect_error;

namespace {

std::filesystem::path regression_dir(const std::string& name) {
  return hg::test::regression_inputs(__FILE__, "data", name);
}

std::vector<uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <typename Reader>
int check_every_input(const std::string& folder, Reader read) {
  const auto dir = regression_dir(folder);
  REQUIRE_MESSAGE(std::filesystem::is_directory(dir), dir.string());
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    CAPTURE(entry.path().string());
    const std::vector<uint8_t> bytes = read_file(entry.path());
    try {
      read(bytes);
    } catch (const hg::Error&) {  // a clear error is the expected outcome; a crash is the bug
    }
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("fuzz regression: IDX sizes [.., 0, 2^31, ..] no longer overflow the strides") {
  // 8 float dims, one of them 0: zero values, so the old element-count check passed, but the
  // strides multiply the other sizes and overflowed int64 inside empty().
  const std::vector<uint8_t> bytes{0x00, 0x00, 0x0d, 0x08, 0x00, 0x1f, 0x8b, 0x08, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x63, 0x60, 0x60,
                                   0xe0, 0x1f, 0x8b, 0x2b, 0x18, 0x00, 0x62, 0x60, 0x76,
                                   0x0e, 0x2e, 0x00, 0xb2, 0xfd, 0xff, 0xff, 0x91, 0xba};
  expect_error([&] { hg::data::read_idx_from_memory(bytes.data(), bytes.size(), "crash.idx"); },
               {"read_idx: crash.idx: header sizes", "overflow a 64-bit element count"});
  expect_error(
      [] {
        (void)hg::empty({0, int64_t{1} << 40, int64_t{1} << 40});
      },
      {"empty: shape [0, 1099511627776, 1099511627776] is too large"});
}

TEST_CASE("fuzz regression: every stored IDX and CIFAR-10 input reads or fails cleanly") {
  const int idx = check_every_input("fuzz_idx", [](const std::vector<uint8_t>& b) {
    hg::data::read_idx_from_memory(b.data(), b.size(), "regression");
  });
  const int cifar = check_every_input("fuzz_cifar10", [](const std::vector<uint8_t>& b) {
    hg::data::read_cifar10_batch_from_memory(b.data(), b.size(), "regression");
  });
  CHECK(idx + cifar >= 1);
}
