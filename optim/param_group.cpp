// ParamGroup (optim/optimizer.h): a group's parameters and options, and the copy of its
// learning rate in device memory that the fused optimizer kernels read.
#include <cmath>

#include "halfgrad/core/cuda.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/optim/optimizer.h"

namespace hg::optim {

ParamGroup::ParamGroup(std::vector<Tensor> p) : params(std::move(p)) {}
ParamGroup::ParamGroup(std::vector<Tensor> p, const OptimizerOptions& o)
    : params(std::move(p)), options(o.clone()) {}
ParamGroup::ParamGroup(const ParamGroup& other)
    : params(other.params), options(other.options ? other.options->clone() : nullptr) {}
ParamGroup& ParamGroup::operator=(const ParamGroup& other) {
  if (this != &other) {
    params = other.params;
    options = other.options ? other.options->clone() : nullptr;
  }
  return *this;
}

double ParamGroup::lr() const {
  HG_CHECK(options != nullptr,
           "ParamGroup::lr: the group has no options yet (add it to an optimizer first)");
  return options->get_lr();
}

void ParamGroup::set_lr(double lr) {
  HG_CHECK(options != nullptr,
           "ParamGroup::set_lr: the group has no options yet (add it to an optimizer first)");
  detail::check_option(std::isfinite(lr) && lr >= 0.0, "ParamGroup::set_lr", "lr", lr,
                       "must be finite and >= 0");
  if (lr_tensor_.defined()) write_lr_tensor(lr, "ParamGroup::set_lr");  // may refuse: first
  options->set_lr(lr);
}

const Tensor& ParamGroup::lr_tensor_on(Device device, const std::string& optimizer) {
  const double lr = options->get_lr();
  if (lr_tensor_.defined() && lr_tensor_.device() == device) {
    if (lr != lr_tensor_value_) write_lr_tensor(lr, optimizer.c_str());  // not through set_lr
    return lr_tensor_;
  }
  HG_CHECK(!cuda::is_capturing(), optimizer,
           ".step inside cuda::Graph::capture: the group's learning rate is not in device memory "
           "yet (its first fused update makes it); take an eager step before capturing");
  lr_tensor_ = full({1}, lr, TensorOptions(kFloat64).device(device));
  lr_tensor_value_ = lr;
  return lr_tensor_;
}

bool ParamGroup::lr_tensor_ready(Device device) const {
  return lr_tensor_.defined() && lr_tensor_.device() == device &&
         lr_tensor_value_ == options->get_lr();
}

void ParamGroup::write_lr_tensor(double lr, const char* who) {
  HG_CHECK(!cuda::is_capturing(), who, " inside cuda::Graph::capture: the lr write (", lr,
           ") would be part of the graph and undo, at every replay, what set_lr does between "
           "replays; change the lr outside the capture");
  lr_tensor_.fill_(lr);
  lr_tensor_value_ = lr;
}

}  // namespace hg::optim
