#pragma once
// The misuse table (docs/reliability.md): each case runs one mistake a user can make and expects
// exactly one clear hg::Error (or warning) whose message has every given part. With
// HG_MISUSE_TABLE=<file> set, each case appends a row "| area | mistake | kind | message |", which
// is how the table in the docs is produced (tools/misuse_table.sh).
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace hg::test {

inline void record_misuse(const std::string& area, const std::string& mistake, const char* kind,
                          const std::string& message) {
  const char* table = std::getenv("HG_MISUSE_TABLE");
  if (table == nullptr) return;
  std::string cell;
  for (char c : message) cell += c == '|' ? '/' : (c == '\n' ? ' ' : c);
  std::ofstream(table, std::ios::app)
      << "| " << area << " | " << mistake << " | " << kind << " | `" << cell << "` |\n";
}

// f must throw hg::Error containing every part.
template <typename F>
void expect_misuse_error(const std::string& area, const std::string& mistake, F&& f,
                         const std::vector<std::string>& parts) {
  CAPTURE(mistake);
  try {
    f();
    FAIL_CHECK("no hg::Error for: " << mistake);
  } catch (const hg::Error& e) {
    const std::string message = e.what();
    for (const auto& part : parts)
      CHECK_MESSAGE(message.find(part) != std::string::npos,
                    "message \"" << message << "\" lacks \"" << part << "\"");
    record_misuse(area, mistake, "error", message);
  }
}

// f must succeed and warn; one of its warnings must contain every part.
template <typename F>
void expect_misuse_warning(const std::string& area, const std::string& mistake, F&& f,
                           const std::vector<std::string>& parts) {
  CAPTURE(mistake);
  std::vector<std::string> warnings;
  reset_warn_once();  // an earlier test in this process may have had the warning already
  const WarningHandler previous =
      set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
  try {
    f();
  } catch (...) {
    set_warning_handler(previous);
    throw;
  }
  set_warning_handler(previous);
  for (const auto& w : warnings) {
    bool all = true;
    for (const auto& part : parts) all = all && w.find(part) != std::string::npos;
    if (all) {
      record_misuse(area, mistake, "warning", w);
      return;
    }
  }
  FAIL_CHECK("no warning with \"" << (parts.empty() ? "" : parts[0]) << "\" for: " << mistake
                                  << " (" << warnings.size() << " warnings)");
}

// The bits of a tensor, to assert that a failed call left it unchanged.
inline std::vector<uint8_t> bits(const Tensor& t) {
  if (!t.defined()) return {};
  const Tensor c = t.detach().contiguous();
  const auto* p = static_cast<const uint8_t*>(c.data_ptr());
  return std::vector<uint8_t>(p, p + c.numel() * static_cast<int64_t>(itemsize(c.dtype())));
}

}  // namespace hg::test
