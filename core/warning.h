#pragma once
// Warnings: halfgrad says some things once rather than failing (a GradScaler used with bf16,
// clipping of still-scaled gradients). They go to stderr by default; a handler can capture them
// (tests do). The handler is process-wide state, set by the program, never by the library.
#include <functional>
#include <string>

namespace hg {

using WarningHandler = std::function<void(const std::string& message)>;

void warn(const std::string& message);
// Warns only the first time `key` is seen in this process.
void warn_once(const std::string& key, const std::string& message);
// Forgets which keys warn_once has seen, so each warns again (tests that expect a warning use
// it; they may run after another test that already triggered it).
void reset_warn_once();
// Replaces the handler (an empty one restores stderr); returns the previous one.
WarningHandler set_warning_handler(WarningHandler handler);

}  // namespace hg
