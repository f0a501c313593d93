#pragma once
// Grad mode: a thread-local switch. Under NoGradGuard no op records onto the tape.

namespace hg {

bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// Sets grad mode for its lifetime, then puts back what was there (torch.set_grad_enabled).
class GradModeGuard {
 public:
  [[nodiscard("a guard acts while it lives: name it")]] explicit GradModeGuard(bool enabled)
      : previous_(is_grad_enabled()) {
    set_grad_enabled(enabled);
  }
  ~GradModeGuard() { set_grad_enabled(previous_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

// torch.no_grad.
struct NoGradGuard : GradModeGuard {
  [[nodiscard("a guard acts while it lives: name it")]] NoGradGuard() : GradModeGuard(false) {}
};

// torch.enable_grad: recording on, inside a backward too (whose nodes run under no-grad; an op
// that must record there, as activation checkpointing's rerun, uses it).
struct EnableGradGuard : GradModeGuard {
  [[nodiscard("a guard acts while it lives: name it")]] EnableGradGuard() : GradModeGuard(true) {}
};

}  // namespace hg
