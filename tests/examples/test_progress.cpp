// examples/common/progress: the loss the display shows.
#include "common/progress.h"

#include <cmath>

#include "test_util.h"

TEST_CASE("LossAverage: the first loss as it is, then the recent steps weigh more") {
  hg::examples::LossAverage average;
  CHECK(std::isnan(average.value()));
  average.add(4.0);
  CHECK(average.value() == doctest::Approx(4.0));  // not dragged toward 0 (bias-corrected)
  average.add(NAN);                                // a skipped step's loss is left out
  average.add(INFINITY);
  CHECK(average.value() == doctest::Approx(4.0));
  for (int i = 0; i < 10; ++i) average.add(1.0);
  // weights 0.95^10 on the 4 against 1 - 0.95^10 on the ones, over 1 - 0.95^11
  const double old_weight = 0.05 * std::pow(0.95, 10);
  const double expected =
      (old_weight * 4.0 + (1 - std::pow(0.95, 10)) * 1.0) / (1 - std::pow(0.95, 11));
  CHECK(average.value() == doctest::Approx(expected));
  CHECK(average.value() < 2.0);  // an undecayed start (the old display) would still show ~2.8
}
