// nn::Embedding's padding_idx and the functional embedding(index, weight, padding_idx): PyTorch
// 1.13's values and gradient (the padding row gets none, its positions read it), the zero
// initial row, negative indices, printing, errors.
#include <vector>

#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;

TEST_CASE("Embedding with padding_idx: PyTorch's values, no gradient for the padding row") {
  // torch 1.13: nn.Embedding(5, 3, padding_idx=1), weight = arange(15) / 4 set after init
  nn::Embedding table(nn::EmbeddingOptions(5, 3).padding_idx(1));
  CHECK(values(table.weight.select(0, 1)) == std::vector<double>{0, 0, 0});  // zero at init
  table.to(kFloat64);
  {
    NoGradGuard no_grad;
    table.weight.copy_(arange(0, 15, 1, kFloat64).reshape({5, 3}) / 4.0);
  }
  const Tensor index = from_vector<int64_t>({1, 0, 1, 3, 1, 4}, {2, 3});
  const Tensor y = table(index);
  (y * arange(0, 18, 1, kFloat64).reshape({2, 3, 3})).sum().backward();
  CHECK(values(y) == std::vector<double>{0.75, 1.0, 1.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 2.25,
                                         2.5, 2.75, 0.75, 1.0, 1.25, 3.0, 3.25, 3.5});
  CHECK(values(table.weight.grad()) ==
        std::vector<double>{3, 4, 5, 0, 0, 0, 0, 0, 0, 9, 10, 11, 15, 16, 17});
  CHECK(table.describe() == "Embedding(5, 3, padding_idx=1)");
  // a negative padding_idx counts from the end
  nn::Embedding last(nn::EmbeddingOptions(4, 2).padding_idx(-1));
  CHECK(*last.options.padding_idx_ == 3);
  CHECK(values(last.weight.select(0, 3)) == std::vector<double>{0, 0});
  CHECK(nn::Embedding(4, 2).describe() == "Embedding(4, 2)");
  expect_error([] { nn::Embedding(nn::EmbeddingOptions(4, 2).padding_idx(4)); },
               {"Embedding", "padding_idx 4", "4 embeddings"});
  expect_error(
      [] {
        embedding(from_vector<int64_t>({0}), zeros({3, 2}), -4);
      },
      {"embedding", "padding_idx -4", "[3, 2]"});
}
