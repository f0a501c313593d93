#include "halfgrad/nn/loss.h"

#include <sstream>

namespace hg::nn {

std::string reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::None:
      return "none";
    case Reduction::Sum:
      return "sum";
    default:
      return "mean";
  }
}

std::string Loss::describe() const {
  return type_name() + "(reduction=" + reduction_name(reduction_) + describe_more() + ")";
}

std::string CrossEntropyLoss::describe_more() const {
  std::ostringstream out;  // 0.1, not std::to_string's 0.100000
  out << ", ignore_index=" << options_.ignore_index_
      << ", label_smoothing=" << options_.label_smoothing_;
  return out.str();
}

std::string NLLLoss::describe_more() const {
  return ", ignore_index=" + std::to_string(ignore_index_);
}

std::string SmoothL1Loss::describe_more() const {
  std::ostringstream out;
  out << ", beta=" << beta_;
  return out.str();
}

std::string HuberLoss::describe_more() const {
  std::ostringstream out;
  out << ", delta=" << delta_;
  return out.str();
}

}  // namespace hg::nn
