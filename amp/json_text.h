#pragma once
// A JSON string literal for the diagnostics' JSON lines (PlanRecorder, PrecisionStats,
// Telemetry): op and tensor names come from users, so quotes, backslashes and control
// characters are escaped. Internal to amp/.
#include <cstdio>
#include <string>
#include <string_view>

namespace hg::amp::detail {

inline std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char code[8];
      std::snprintf(code, sizeof code, "\\u%04x", static_cast<unsigned>(c));
      out += code;
    } else {
      out += c;
    }
  }
  return out + '"';
}

}  // namespace hg::amp::detail
