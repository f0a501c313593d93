// Module::load_state_dict: every difference between the module and the state is reported at
// once (missing keys, unexpected keys, shape and dtype mismatches), then nothing is changed.
#include <sstream>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/core/error.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  const std::map<std::string, Tensor> own = state_dict();
  std::ostringstream problems;
  int count = 0;
  bool dtypes_only = false;  // some tensor differs in dtype alone: saved at another precision
  for (const auto& [name, t] : own) {
    auto found = state.find(name);
    if (found == state.end()) {
      if (strict)
        problems << "\n  missing key \"" << name << "\" (" << hg::describe(t) << ")", ++count;
      continue;
    }
    const Tensor& v = found->second;
    if (!v.defined()) {
      problems << "\n  \"" << name << "\": expected " << hg::describe(t)
               << ", got an undefined tensor";
      ++count;
    } else if (v.sizes() != t.sizes() || v.dtype() != t.dtype()) {
      problems << "\n  \"" << name << "\": expected " << hg::describe(t) << ", got "
               << hg::describe(v);
      ++count;
      dtypes_only = dtypes_only || v.sizes() == t.sizes();
    }
  }
  if (strict) {
    for (const auto& [name, v] : state)
      if (!own.count(name))
        problems << "\n  unexpected key \"" << name << "\" (" << hg::describe(v) << ")", ++count;
  }
  HG_CHECK(count == 0, "load_state_dict: ", type_name_, " does not match the state (", count,
           " problem", count == 1 ? "" : "s", "):", problems.str(),
           dtypes_only ? "\n  (a state saved at another precision is not converted: load it "
                         "before amp::initialize or Module::to(dtype), or convert it first)"
                       : "");
  NoGradGuard no_grad;
  for (const auto& [name, t] : own) {
    auto found = state.find(name);
    if (found != state.end()) Tensor(t).copy_(found->second);
  }
}

}  // namespace hg::nn
