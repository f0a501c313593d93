// Uses halfgrad as an outside program would: the umbrella header, the public API, the package's
// imported target. Checks a small forward + backward pass against values worked out by hand and
// returns non-zero on any mismatch.
#include <halfgrad/halfgrad.h>

#include "core/error.h"    // the program's own (src/core), not halfgrad's
#include "data/dataset.h"  // the program's own (src/data)
#include "from_pytorch.h"

#include <cmath>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

namespace {

int failures = 0;

void expect(const std::string& what, const std::vector<float>& got,
            const std::vector<float>& want) {
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < got.size(); ++i)
    ok = got[i] == want[i] || std::abs(got[i] - want[i]) <= 1e-5f;
  std::cout << (ok ? "ok   " : "FAIL ") << what << ":";
  for (float v : got) std::cout << ' ' << v;
  if (!ok) {
    std::cout << "   (want";
    for (float v : want) std::cout << ' ' << v;
    std::cout << ')';
    ++failures;
  }
  std::cout << '\n';
}

}  // namespace

int main() try {
  expect("own headers beside halfgrad's",
         {static_cast<float>(ConsumerDataset{}.size), static_cast<float>(kConsumerErrors)}, {3, 0});
  // a [2, 3] @ w [3, 2] -> y [2, 2]; loss = sum(y)
  hg::Tensor a = hg::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  hg::Tensor w = hg::from_vector<float>({1, -1, 0.5f, 2, -2, 0}, {3, 2},
                                        hg::TensorOptions().requires_grad(true));
  hg::Tensor y = hg::matmul(a, w);
  hg::Tensor loss = hg::sum(y);
  loss.backward();

  // y = [[1+1-6, -1+4+0], [4+2.5-12, -4+10+0]]
  expect("matmul", y.to_vector<float>(), {-4, 3, -5.5f, 6});
  expect("sum", {loss.item<float>()}, {-0.5f});
  // dloss/dw = a^T @ ones[2, 2]: row k of w gets a[0][k] + a[1][k]
  expect("grad w", w.grad().to_vector<float>(), {5, 5, 7, 7, 9, 9});

  // The same matmul in fp16 with an fp32 weight: the cast is taped, so w.grad stays fp32.
  hg::Tensor w2 = w.detach().requires_grad_(true);
  hg::Tensor y16 = hg::matmul(a.to(hg::kFloat16), w2.to(hg::kFloat16));
  hg::sum(y16.to(hg::kFloat32)).backward();
  expect("fp16 matmul", y16.to_vector<float>(), {-4, 3, -5.5f, 6});
  const bool grad_fp32 = w2.grad().dtype() == hg::kFloat32;
  std::cout << (grad_fp32 ? "ok   " : "FAIL ") << "grad dtype: " << w2.grad() << '\n';
  if (!grad_fp32) ++failures;
  expect("fp16 grad w", w2.grad().to_vector<float>(), {5, 5, 7, 7, 9, 9});

  // fp16 rounding through the public Half type: 65520 overflows, 65519.99 rounds to 65504.
  expect("half rounding", {float(hg::Half(65519.99f)), float(hg::Half(65520.0f))},
         {65504.0f, INFINITY});

  failures += from_pytorch_checks();
  std::cout << (failures ? "hg_consumer: FAILED\n" : "hg_consumer: all checks passed\n");
  return failures ? 1 : 0;
} catch (const std::exception& e) {
  std::cerr << "hg_consumer: exception: " << e.what() << '\n';
  return 1;
}
