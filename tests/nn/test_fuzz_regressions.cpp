// safetensors inputs on which the fuzz target (fuzz/fuzz_safetensors.cpp) or review found a bug,
// kept in fuzz_safetensors/ beside this file: each must now give one clear hg::Error.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "regression_inputs.h"
#include "test_util.h"

using hg::test::expect_error;

namespace {

std::vector<uint8_t> safetensors_bytes(const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes += header;
  bytes.append(data_bytes, '\0');
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

void expect_parse_error(const std::string& header, const std::vector<std::string>& parts) {
  const std::vector<uint8_t> b = safetensors_bytes(header, 4);
  expect_error([&] { hg::nn::parse_safetensors(b.data(), b.size(), "crash.safetensors"); }, parts);
}

}  // namespace

TEST_CASE("fuzz regression: safetensors shapes and offsets must be integers that fit") {
  // nlohmann's get<int64_t>() cast 1e300 to an integer (undefined behaviour, UBSan aborted) and
  // silently truncated 1.5 to 1.
  expect_parse_error(R"({"a":{"dtype":"F32","shape":[1e300],"data_offsets":[0,4]}})",
                     {"tensor \"a\" is malformed: shape holds 1e+300, expected integers"});
  expect_parse_error(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})",
                     {"shape holds 1.5"});
  expect_parse_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4e30]}})",
                     {"data_offsets holds 4e+30"});
  expect_parse_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})",
                     {"data_offsets holds -4, expected integers in [0, 18446744073709551615]"});
  expect_parse_error(
      R"({"a":{"dtype":"F32","shape":[1099511627775,1099511627775,1099511627775],"data_offsets":[0,4]}})",
      {"element count overflows"});
}

TEST_CASE("fuzz regression: every stored safetensors input fails cleanly") {
  const auto dir = hg::test::regression_inputs(__FILE__, "nn", "fuzz_safetensors");
  REQUIRE_MESSAGE(std::filesystem::is_directory(dir), dir.string());
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    CAPTURE(entry.path().string());
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<uint8_t> b{std::istreambuf_iterator<char>(in),
                                 std::istreambuf_iterator<char>()};
    CHECK_THROWS_AS(hg::nn::parse_safetensors(b.data(), b.size(), "regression"), hg::Error);
    ++n;
  }
  CHECK(n >= 3);
}
