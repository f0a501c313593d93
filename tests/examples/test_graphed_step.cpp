// examples/common/graphed_step: the examples' --graph step. Without a GPU only its eager side
// runs here; the capture and replays are exercised by hg_mnist --graph in tools/gpu_check.sh.
#include "common/graphed_step.h"

#include "test_util.h"

using namespace hg;

TEST_CASE("GraphedStep: disabled, every call runs the step eagerly and returns its loss") {
  int calls = 0;
  examples::GraphedStep step(
      [&](const Tensor& x, const Tensor& y) {
        ++calls;
        return sum(x * y);
      },
      /*enabled=*/false);
  for (int i = 0; i < 5; ++i) {
    const Tensor loss = step(full({2}, 1.0), full({2}, static_cast<double>(i)));
    CHECK(loss.item<double>() == 2.0 * i);
  }
  CHECK(calls == 5);
  CHECK(step.replays() == 0);
}

TEST_CASE("GraphedStep: enabled, the warm-up calls are eager and a capture needs a CUDA device") {
  int calls = 0;
  examples::GraphedStep step(
      [&](const Tensor& x, const Tensor&) {
        ++calls;
        return sum(x);
      },
      /*enabled=*/true, /*warmup=*/2);
  (void)step(ones({3}), ones({3}));
  (void)step(ones({3}), ones({3}));
  CHECK(calls == 2);
  if (!cuda::is_available()) {  // with a device, the capture side is hg_mnist --graph's
    hg::test::expect_error([&] { (void)step(ones({3}), ones({3})); }, {"Graph::capture"});
    (void)step(ones({2}), ones({2}));  // another shape: always eager, never captured
    CHECK(calls == 3);
  }
  hg::test::expect_error(
      [] { examples::GraphedStep bad([](const Tensor& x, const Tensor&) { return x; }, true, 0); },
      {"GraphedStep", "warmup must be >= 1", "got 0"});
}
