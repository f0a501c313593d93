#include "halfgrad/core/warning.h"

#include <iostream>
#include <mutex>
#include <set>

namespace hg {

namespace {
std::mutex mutex;
WarningHandler& handler() {
  static WarningHandler h;
  return h;
}
std::set<std::string>& seen_keys() {
  static std::set<std::string> seen;
  return seen;
}
}  // namespace

void warn(const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex);
  if (handler())
    handler()(message);
  else
    std::cerr << "halfgrad warning: " << message << '\n';
}

void warn_once(const std::string& key, const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!seen_keys().insert(key).second) return;
  }
  warn(message);
}

void reset_warn_once() {
  std::lock_guard<std::mutex> lock(mutex);
  seen_keys().clear();
}

WarningHandler set_warning_handler(WarningHandler h) {
  std::lock_guard<std::mutex> lock(mutex);
  WarningHandler previous = std::move(handler());
  handler() = std::move(h);
  return previous;
}

}  // namespace hg
