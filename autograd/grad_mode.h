#pragma once
// Grad mode: a thread-local switch. Under NoGradGuard no op records onto the tape.

namespace hg {

bool is_grad_enabled();
void set_grad_enabled(bool enabled);

struct NoGradGuard {
  [[nodiscard("a guard acts while it lives: name it")]] NoGradGuard()
      : previous_(is_grad_enabled()) {
    set_grad_enabled(false);
  }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Turns recording on for its lifetime (inside a backward, whose nodes run under no-grad: an op
// that must record, as activation checkpointing's rerun, uses it). torch.enable_grad.
struct EnableGradGuard {
  [[nodiscard("a guard acts while it lives: name it")]] EnableGradGuard()
      : previous_(is_grad_enabled()) {
    set_grad_enabled(true);
  }
  ~EnableGradGuard() { set_grad_enabled(previous_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace hg
