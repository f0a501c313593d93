// examples/common/checkpoint: advance_schedule puts a resumed run's schedule where stepping it
// would have, without the "optimizer took no step" warning that stepping an idle optimizer gives.
#include "common/checkpoint.h"

#include <string>
#include <vector>

#include "test_util.h"

using namespace hg;

TEST_CASE("advance_schedule: the lr of N scheduler steps, and no warning") {
  Tensor w = ones({2}).requires_grad_();
  optim::SGD stepped_opt({w}, optim::SGDOptions(0.1)), moved_opt({w}, optim::SGDOptions(0.1));
  optim::OneCycleLR stepped(stepped_opt, 0.4, 100), moved(moved_opt, 0.4, 100);
  std::vector<std::string> warnings;
  reset_warn_once();
  const WarningHandler previous =
      set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
  examples::advance_schedule(moved, 37);
  CHECK(warnings.empty());
  for (int s = 0; s < 37; ++s) stepped.step();  // the optimizer never steps: this one warns
  set_warning_handler(previous);
  CHECK_FALSE(warnings.empty());
  CHECK(moved.last_epoch() == stepped.last_epoch());
  CHECK(moved.get_last_lr() == stepped.get_last_lr());
  CHECK(moved_opt.param_groups()[0].lr() == stepped_opt.param_groups()[0].lr());
}
