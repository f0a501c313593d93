#include "graphed_step.h"

#include <utility>

namespace hg::examples {

GraphedStep::GraphedStep(Step step, bool enabled, int64_t warmup)
    : step_(std::move(step)), enabled_(enabled), warmup_(warmup) {
  HG_CHECK(warmup >= 1,
           "GraphedStep: warmup must be >= 1 (the capture needs eager steps "
           "before it), got ",
           warmup);
}

Tensor GraphedStep::operator()(const Tensor& x, const Tensor& y) {
  if (++calls_ == 1) x_sizes_ = x.sizes(), y_sizes_ = y.sizes();
  const bool graph_shape = x.sizes() == x_sizes_ && y.sizes() == y_sizes_;
  if (!enabled_ || calls_ <= warmup_ || !graph_shape) return step_(x, y);
  if (!graph_.captured()) {
    x_ = x.clone();
    y_ = y.clone();
    graph_.capture([&] { loss_ = step_(x_, y_); });  // recorded, not run: the replay runs it
  } else {
    x_.copy_(x);
    y_.copy_(y);
  }
  graph_.replay();
  ++replays_;
  return loss_.clone();  // the next replay rewrites loss_
}

}  // namespace hg::examples
