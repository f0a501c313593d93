// DataLoader positions: state/set_state resume, stopped passes, the end of an epoch.
#include "dataloader_util.h"

TEST_CASE("DataLoader state/set_state resume a pass at the next batch, bit for bit") {
  for (int64_t prefetch : {0, 2}) {
    CAPTURE(prefetch);
    const DataLoaderOptions options{
        .batch_size = 3, .shuffle = true, .seed = 9, .prefetch = prefetch};
    DataLoader full(indexed(20, {hg::data::random_horizontal_flip()}), options);
    full.set_epoch(2);
    const auto expected = one_pass(full);  // 7 batches of epoch 2
    DataLoader first(indexed(20, {hg::data::random_horizontal_flip()}), options);
    first.set_epoch(2);
    hg::data::DataLoaderState saved;
    int64_t seen = 0;
    for (auto& batch : first) {
      (void)batch;
      if (++seen == 3) {
        saved = first.state();  // working on batch 2: the next one is 3
        break;
      }
    }
    CHECK(saved == hg::data::DataLoaderState{9, 2, 3});
    DataLoader resumed(indexed(20, {hg::data::random_horizontal_flip()}),
                       {.batch_size = 3, .shuffle = true, .seed = 1, .prefetch = prefetch});
    resumed.set_state(saved);
    resumed.set_epoch(2);  // the loop's own set_epoch keeps the position
    const auto rest = one_pass(resumed);
    REQUIRE(rest.size() == 4);
    for (size_t i = 0; i < rest.size(); ++i) CHECK(rest[i] == expected[i + 3]);
    CHECK(resumed.state() == hg::data::DataLoaderState{9, 3, 0});  // the next pass starts fresh
  }
  DataLoader loader(indexed(10), {.batch_size = 4});
  expect_error(
      [&] {
        loader.set_state({0, 0, 4});
      },
      {"DataLoader.set_state: batch 4 is outside the pass of 3 batches"});
}

TEST_CASE("DataLoader: an iterator of a stopped pass is an error, not a hang") {
  for (int64_t prefetch : {0, 2}) {
    CAPTURE(prefetch);
    DataLoader loader(indexed(12), {.batch_size = 2, .prefetch = prefetch});
    expect_error(
        [&] {
          int64_t seen = 0;
          for (auto& batch : loader) {
            (void)batch;
            if (++seen == 2) loader.set_state({0, 0, 0});  // as a Checkpoint load would
          }
        },
        {"DataLoader", "pass was stopped", "begin()"});
    expect_error(
        [&] {
          for (auto& outer : loader) {  // nested passes over one loader
            (void)outer;
            for (auto& inner : loader) (void)inner;
          }
        },
        {"DataLoader", "pass was stopped"});
    CHECK(targets(loader).size() == 12);  // a new pass runs normally
  }
}

TEST_CASE("DataLoader: a state saved at an epoch's last batch resumes after that epoch") {
  const DataLoaderOptions options{.batch_size = 4, .shuffle = true, .seed = 5};
  DataLoader first(indexed(8), options);
  hg::data::DataLoaderState saved;
  first.set_epoch(0);
  for (auto& batch : first) {
    (void)batch;
    saved = first.state();
  }
  CHECK(saved == hg::data::DataLoaderState{5, 0, 2});  // the loop is in epoch 0, and it is done
  DataLoader expected(indexed(8), options);
  expected.set_epoch(1);
  const std::vector<int64_t> epoch1 = targets(expected);
  DataLoader resumed(indexed(8), options);
  resumed.set_state(saved);
  resumed.set_epoch(0);  // the resumed loop's own epoch counter: epoch 0 has nothing left
  CHECK(targets(resumed).empty());
  resumed.set_epoch(1);
  CHECK(targets(resumed) == epoch1);
  expect_error([&] { resumed.set_epoch(-3); }, {"DataLoader.set_epoch", "-3"});
}
