// The CPU column of the fused attention (kernels/attention_kernels.h), and its tables. Each
// problem of the batch is solved whole by one thread in one order, so the bits depend on neither
// the thread count nor the timing: problems are handed to the threads as they finish.
//
// The products are BLAS calls on the problem's thread (each small, so single-threaded there), on
// operands in the compute type (16-bit ones widened once per problem); the masking, softmax and
// its backward run on the score rows in between.
#include <cmath>
#include <limits>
#include <vector>

#include "halfgrad/kernels/attention_kernels.h"
#include "halfgrad/kernels/cpu/blas.h"
#include "halfgrad/kernels/cpu/compute_rows.h"
#include "halfgrad/kernels/cpu/exp_nonpositive.h"
#include "halfgrad/kernels/cpu/loops.h"

namespace hg::kernels {

namespace cpu {

namespace {

struct Dims {
  int64_t problems, queries, keys, width, value_width;  // B, L, S, E, Ev
};

Dims dims_of(const TensorView& q, const TensorView& k, const TensorView& v) {
  return {q.sizes[0], q.sizes[1], k.sizes[1], q.sizes[2], v.sizes[2]};
}

// One thread's buffers for one problem, in the compute type C (reused from problem to problem).
template <typename C>
struct Workspace {
  std::vector<C> q, k, v, grad_out, grad_scores, out, grad_q, grad_k, grad_v;
};

template <typename C>
Workspace<C>& workspace() {
  thread_local Workspace<C> w;
  return w;
}

// C [m, n] = alpha op(A) op(B), all contiguous (blas.h; one thread inside the parallel region).
template <typename C>
void product(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, C alpha, const C* a,
             const C* b, C* c) {
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  if constexpr (std::is_same_v<C, double>)
    dgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, 0.0, c, n);
  else
    sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, n);
}

// Problem b's operands in the compute type.
template <typename C>
struct Operands {
  const C *q, *k, *v;
};

template <typename T, typename C>
Operands<C> load_problem(const TensorView& q, const TensorView& k, const TensorView& v,
                         const Dims& d, int64_t b, Workspace<C>& w) {
  return {as_compute(q.ptr<T>() + b * d.queries * d.width, d.queries * d.width, w.q),
          as_compute(k.ptr<T>() + b * d.keys * d.width, d.keys * d.width, w.k),
          as_compute(v.ptr<T>() + b * d.keys * d.value_width, d.keys * d.value_width, w.v)};
}

// scores [L, S] = scale q k^T + mask, -inf where the causal mask hides a key; mask is problem b's
// [L, S] of C or null.
template <typename C>
void compute_scores(const Operands<C>& in, const Dims& d, const TensorView* mask, int64_t b,
                    bool causal, C scale, C* scores) {
  product(false, true, d.queries, d.keys, d.width, scale, in.q, in.k, scores);
  for (int64_t i = 0; i < d.queries; ++i) {
    C* row = scores + i * d.keys;
    if (mask != nullptr) {
      const C* m = mask->ptr<C>() + b * mask->strides[0] + i * mask->strides[1];
      const int64_t step = mask->strides[2];
      for (int64_t j = 0; j < d.keys; ++j) row[j] += m[j * step];
    }
    if (causal)
      for (int64_t j = i + 1; j < d.keys; ++j) row[j] = -std::numeric_limits<C>::infinity();
  }
}

template <typename T, typename C>
void forward_problem(const TensorView& q, const TensorView& k, const TensorView& v,
                     const TensorView* mask, bool causal, C scale, const TensorView& out,
                     const TensorView& weights, int64_t b) {
  const Dims d = dims_of(q, k, v);
  Workspace<C>& w = workspace<C>();
  const Operands<C> in = load_problem<T>(q, k, v, d, b, w);
  C* p = weights.ptr<C>() + b * d.queries * d.keys;
  compute_scores(in, d, mask, b, causal, scale, p);
  for (int64_t i = 0; i < d.queries; ++i) {  // the weights, as the softmax kernel forms them
    C* row = p + i * d.keys;
    C max = -std::numeric_limits<C>::infinity();
    for (int64_t j = 0; j < d.keys; ++j) max = std::max(max, row[j]);
    for (int64_t j = 0; j < d.keys; ++j) row[j] = exp_nonpositive(row[j] - max);
    C sum = 0;
    for (int64_t j = 0; j < d.keys; ++j) sum += row[j];
    const C inv = C(1) / sum;
    for (int64_t j = 0; j < d.keys; ++j) row[j] *= inv;
  }
  const int64_t n = d.queries * d.value_width;
  T* to = out.ptr<T>() + b * n;
  C* o = result_buffer(to, n, w.out);
  product(false, false, d.queries, d.value_width, d.keys, C(1), p, in.v, o);
  round_into(o, to, n);
}

template <typename T, typename C>
void backward_problem(const TensorView& q, const TensorView& k, const TensorView& v,
                      const TensorView& weights, C scale, const TensorView& grad_out,
                      const TensorView& grad_q, const TensorView& grad_k, const TensorView& grad_v,
                      int64_t b) {
  const Dims d = dims_of(q, k, v);
  Workspace<C>& w = workspace<C>();
  const Operands<C> in = load_problem<T>(q, k, v, d, b, w);
  const C* go = as_compute(grad_out.ptr<T>() + b * d.queries * d.value_width,
                           d.queries * d.value_width, w.grad_out);
  const C* p = weights.ptr<C>() + b * d.queries * d.keys;
  w.grad_scores.resize(static_cast<size_t>(d.queries * d.keys));
  C* ds = w.grad_scores.data();
  product(false, true, d.queries, d.keys, d.value_width, C(1), go, in.v, ds);  // dP = dO v^T
  for (int64_t i = 0; i < d.queries; ++i) {  // the softmax backward: dS = P (dP - sum(P dP))
    const C* pi = p + i * d.keys;
    C* row = ds + i * d.keys;
    C dot = 0;
    for (int64_t j = 0; j < d.keys; ++j) dot += pi[j] * row[j];
    for (int64_t j = 0; j < d.keys; ++j) row[j] = pi[j] * (row[j] - dot);
  }
  // each gradient [rows, cols] = alpha op(A) op(B), then rounded into its tensor
  const auto gradient = [&](const TensorView& to_view, std::vector<C>& buffer, int64_t rows,
                            int64_t cols, int64_t inner, bool trans_a, C alpha, const C* a,
                            const C* bm) {
    T* to = to_view.ptr<T>() + b * rows * cols;
    C* g = result_buffer(to, rows * cols, buffer);
    product(trans_a, false, rows, cols, inner, alpha, a, bm, g);
    round_into(g, to, rows * cols);
  };
  gradient(grad_v, w.grad_v, d.keys, d.value_width, d.queries, true, C(1), p, go);  // P^T dO
  gradient(grad_q, w.grad_q, d.queries, d.width, d.keys, false, scale, ds, in.k);   // dS k
  gradient(grad_k, w.grad_k, d.keys, d.width, d.queries, true, scale, ds, in.q);    // dS^T q
}

// Calls solve(b) for every problem: on the threads when there is enough work.
template <typename F>
void for_each_problem(const Dims& d, F&& solve) {
  const int64_t work = d.problems * d.queries * d.keys * (d.width + d.value_width);
  for_each_piece(d.problems, work >= kParallelGrain, solve);
}

void attention(const TensorView& q, const TensorView& k, const TensorView& v,
               const TensorView* mask, bool causal, double scale, const TensorView& out,
               const TensorView& weights) {
  dispatch_floating(q.dtype, "attention", [&]<typename T>() {
    using C = compute_t<T>;
    for_each_problem(dims_of(q, k, v), [&](int64_t b) {
      forward_problem<T, C>(q, k, v, mask, causal, static_cast<C>(scale), out, weights, b);
    });
  });
}

void attention_backward(const TensorView& q, const TensorView& k, const TensorView& v,
                        const TensorView& weights, double scale, const TensorView& grad_out,
                        const TensorView& grad_q, const TensorView& grad_k,
                        const TensorView& grad_v) {
  dispatch_floating(q.dtype, "attention_backward", [&]<typename T>() {
    using C = compute_t<T>;
    for_each_problem(dims_of(q, k, v), [&](int64_t b) {
      backward_problem<T, C>(q, k, v, weights, static_cast<C>(scale), grad_out, grad_q, grad_k,
                             grad_v, b);
    });
  });
}

}  // namespace

}  // namespace cpu

DispatchTable<AttentionFn> attention{"attention", {cpu::attention, nullptr}};
DispatchTable<AttentionBackwardFn> attention_backward{"attention_backward",
                                                      {cpu::attention_backward, nullptr}};

}  // namespace hg::kernels
