#include "halfgrad/nn/module_list.h"

#include "halfgrad/core/error.h"

namespace hg::nn {

ModuleList::ModuleList(std::initializer_list<std::shared_ptr<Module>> modules) : ModuleList() {
  for (const auto& m : modules) push_back(m);
}

std::shared_ptr<Module> ModuleList::operator[](int64_t index) const {
  const int64_t n = size();
  HG_CHECK(n > 0, type_name(), ": index ", index, " out of range: it holds no modules");
  HG_CHECK(index >= -n && index < n, type_name(), ": index ", index, " out of range for ", n,
           " modules (expected [", -n, ", ", n - 1, "])");
  return modules_[static_cast<size_t>(index < 0 ? index + n : index)];
}

void ModuleList::fail_cast(int64_t index, const Module& module) const {
  HG_FAIL(type_name(), ": at(", index, "): module ", index, " is ", module.describe(),
          ", not of the type asked for");
}

}  // namespace hg::nn
