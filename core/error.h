#pragma once
// hg::Error and the checking macros. Every misuse of the API is reported as an hg::Error whose
// message names the op, the shapes and the dtypes involved, e.g.
//   "matmul: inner dimensions differ: a [2, 3] float32, b [4, 5] float32"
#include <sstream>
#include <stdexcept>
#include <string>

namespace hg {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

}  // namespace hg

// HG_CHECK(cond, parts...): throws hg::Error(parts...) when cond is false.
#define HG_CHECK(cond, ...)                                            \
  do {                                                                 \
    if (!(cond)) throw ::hg::Error(::hg::detail::concat(__VA_ARGS__)); \
  } while (0)

#define HG_FAIL(...) throw ::hg::Error(::hg::detail::concat(__VA_ARGS__))
