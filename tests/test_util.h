#pragma once
// Helpers shared by the test suites.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "halfgrad/halfgrad.h"

namespace hg::test {

// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("hg_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Runs f, expects hg::Error, and checks that its message contains every part.
template <typename F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("expected hg::Error containing \"" << (parts.empty() ? "" : parts[0]) << "\"");
  } catch (const hg::Error& e) {
    const std::string message = e.what();
    for (const auto& part : parts) {
      CHECK_MESSAGE(message.find(part) != std::string::npos,
                    "message \"" << message << "\" lacks \"" << part << "\"");
    }
  }
}

inline void expect_close(const std::vector<double>& actual, const std::vector<double>& expected,
                         double atol = 1e-6, double rtol = 1e-6) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    const bool ok = std::abs(actual[i] - expected[i]) <= atol + rtol * std::abs(expected[i]) ||
                    (std::isnan(actual[i]) && std::isnan(expected[i])) ||
                    (actual[i] == expected[i]);
    CHECK_MESSAGE(ok, "element " << i << ": " << actual[i] << " vs expected " << expected[i]);
  }
}

inline std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// The same dtype, shape and bytes (CPU tensors; two undefined tensors are the same too).
inline bool same_bits(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  if (a.dtype() != b.dtype() || a.sizes() != b.sizes()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(),
                     static_cast<size_t>(ca.numel()) * itemsize(ca.dtype())) == 0;
}

// Whether a node named `name` made `out`: out's own node or one of the few under it along each
// node's first input (reshapes and casts sit above an op's node), e.g. whether an op took its
// fused kernel ("ScaledDotProductAttentionBackward") or its composite.
inline bool made_by_node(const Tensor& out, const std::string& name, int depth = 4) {
  auto node = out.grad_fn();
  for (int level = 0; level < depth && node; ++level) {
    if (node->name() == name) return true;
    node = node->next_edges.empty() ? nullptr : node->next_edges[0].node;
  }
  return false;
}

}  // namespace hg::test
