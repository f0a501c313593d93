#pragma once
// The differentiable op set, as free functions. Every op follows the same path (DESIGN.md):
// autocast -> check -> kernel -> record. Shapes in comments: [N, C] etc.
#include <cstdint>
#include <optional>
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg {

// ---- elementwise, unary (floating dtypes) ----
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);  // log(1 + x), exact near 0 where log(1 + x) rounds to 0
Tensor expm1(const Tensor& x);  // exp(x) - 1, exact near 0
Tensor sqrt(const Tensor& x);
// Rounding to integers in the tensor's dtype (round: ties to even, as torch.round); their
// gradient is zero. Integer tensors come back as copies.
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x);
Tensor trunc(const Tensor& x);
// round(x * 10^decimals) / 10^decimals (negative decimals: round(x / 10^-decimals) 10^-decimals),
// as torch.round(x, decimals=...): floating x only; 16-bit x computes in float, rounded once, so
// the scaled value cannot overflow where fp16 would. Its gradient is zero.
Tensor round(const Tensor& x, int64_t decimals);
Tensor erf(const Tensor& x);  // integers compute in float32
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor square(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);  // the exact form, x Phi(x) (erf)
enum class GeluApproximate { None, Tanh };
// Tanh: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), as torch's approximate="tanh"
Tensor gelu(const Tensor& x, GeluApproximate approximate);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor clamp(const Tensor& x, double min, double max);
Tensor clamp_min(const Tensor& x, double min);
Tensor clamp_max(const Tensor& x, double max);
// composites (autograd/composite_ops.cpp)
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor silu(const Tensor& x);
// log(1 + exp(beta x)) / beta, or x itself where beta x > threshold, as torch's softplus;
// fp32 under autocast (PyTorch's list), a 16-bit x otherwise computed in float, rounded once.
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
// x > 0 ? x : alpha (exp(x) - 1), as torch's elu; selu is scale * elu(x, alpha) with the fixed
// self-normalising constants; mish is x tanh(softplus(x)).
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor selu(const Tensor& x);
Tensor mish(const Tensor& x);
// x with `value` where mask (bool, broadcasting to x's shape) is true.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// scale * x + shift in one pass, the scalars kept in float (double for fp64): the scalar
// operators (x * 0.1, x + 1) on floating tensors use it, so no scalar is rounded to 16 bits.
Tensor affine(const Tensor& x, double scale, double shift);
// x / divisor in one pass, a true division in float (double for fp64): `x / 3.0` on floating
// tensors uses it.
Tensor div_scalar(const Tensor& x, double divisor);
// dividend / x in one pass, the dividend never rounded to x's dtype (dividend / x).
Tensor scalar_div(double dividend, const Tensor& x);

// ---- elementwise, binary (broadcasting, dtype promotion) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // true division: integers promote to float32
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// comparisons give Bool tensors and no gradient
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// cond ? a : b, broadcasting all three; cond is Bool.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// The dtype of a binary op (and where) on a and b, as torch.result_type: promote_types when
// both have dimensions or neither does; a 0-dim tensor beside a dimensioned one counts only when
// its category (bool < integer < floating) is higher: fp16 [3] + fp32 0-dim is fp16, int64 [3]
// + fp32 0-dim is fp32, uint8 [3] + int64 0-dim is uint8.
DType result_type(const Tensor& a, const Tensor& b);
// The scalar as a 0-dim tensor for a binary op with `like`: in like's dtype when like is
// floating; for an integer or bool tensor a whole number is an integer scalar (converted to
// like's dtype modulo 2^bits, as libtorch's integer scalars: uint8 - 1 wraps to 255), anything
// else (a fraction, inf, NaN, a whole number past int64) a float32 one, so the result is float32.
Tensor wrap_scalar(double value, const Tensor& like);

// ---- reductions ----
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// The product of all elements, or along one dim (as torch.prod): floating products in double,
// rounded once; integers in int64. The gradient is the product of the others, zeros included.
Tensor prod(const Tensor& x);
Tensor prod(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);  // max of all elements (0-dim)
Tensor min(const Tensor& x);
struct ValuesIndices {
  Tensor values;
  Tensor indices;  // int64
};
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
// Variance with Bessel's correction by default (correction = 1), as torch.var.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false,
           int64_t correction = 1);
Tensor var(const Tensor& x);  // over all elements, correction 1
// sqrt(var(...)), as torch.std (autograd/composite_ops.cpp). Call it hg::std: after `using
// namespace hg` a bare std(x) is ambiguous with namespace std.
Tensor std(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false,
           int64_t correction = 1);
Tensor std(const Tensor& x);
// Running sums along dim, as torch.cumsum: floating sums in double, each rounded once (fp32
// under autocast); int64 in int64, and bool/uint8 inputs give int64. The gradient is the
// gradient's running sum from the other end.
Tensor cumsum(const Tensor& x, int64_t dim);
// log(sum(exp(x), dims)), computed without overflow; its gradient is softmax over dims.
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Sums a broadcast gradient back to `shape` (the inverse of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- norms and distances (autograd/distance_ops.cpp): fp32 under autocast ----
// The p-norm over dims (all when empty), as torch.linalg.vector_norm: p = 2, 1, +-inf, 0 (the
// count of non-zeros) or any p > 1. The gradient of a zero norm is 0, PyTorch's convention.
Tensor norm(const Tensor& x, double p = 2.0, const std::vector<int64_t>& dims = {},
            bool keepdim = false);
// x / max(norm(x, p, {dim}), eps), as torch.nn.functional.normalize.
Tensor normalize(const Tensor& x, double p = 2.0, int64_t dim = 1, double eps = 1e-12);
// sum(a * b, dim) / max(norm(a) norm(b), eps), as torch.nn.functional.cosine_similarity.
Tensor cosine_similarity(const Tensor& a, const Tensor& b, int64_t dim = 1, double eps = 1e-8);

// ---- linear algebra ----
// matmul follows torch.matmul: 1-D operands are promoted and squeezed, batch dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);  // [B, M, K] x [B, K, N]
// x [*, in] , weight [out, in], bias [out] (optional) -> [*, out]
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- inspecting values (autograd/compare_ops.cpp): bool masks of x's shape, no gradient ----
// Which elements are finite, NaN, +-inf. An integer or bool tensor is finite everywhere.
Tensor isfinite(const Tensor& x);
Tensor isnan(const Tensor& x);
Tensor isinf(const Tensor& x);
// |a - b| <= atol + rtol * |b| elementwise, as torch.isclose: a and b of one dtype (broadcast),
// computed in it (integers in float32); equal values (infinities too) are close, NaN never is
// unless equal_nan. allclose: whether all of them are (a host read: it synchronises on CUDA).
Tensor isclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8,
               bool equal_nan = false);
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false);

// ---- softmax ----
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- joining ----
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);

// ---- layout (autograd/layout_ops.cpp): any dtype ----
// The lower (upper) triangle of the last two dims: elements with col - row <= diagonal
// (>= diagonal) kept, the rest 0, as torch.tril / torch.triu.
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor triu(const Tensor& x, int64_t diagonal = 0);
// x shifted cyclically by shifts[k] along dims[k], as torch.roll; no dims: over the flattened x.
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts,
            const std::vector<int64_t>& dims = {});
// x tiled repeats[i] times along dim i, as torch's x.repeat (more repeats than dims: leading
// dims of 1 added first).
Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats);

// ---- splitting and indexing (autograd/index_ops.cpp) ----
// Views of x along dim, as torch.split: pieces of split_size (the last may be smaller), or of
// the given sizes (which must sum to size(dim)).
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
// ceil(size(dim) / chunks)-sized views, as torch.chunk (fewer than `chunks` when they run out).
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);
// x [.., D, ..] (any dtype), index int64 [K] in [0, D) -> [.., K, ..]: the slices at index along
// dim. The gradient of a slice picked twice is the sum of both. Tensors with no gradient (int64
// labels, uint8 images, bool masks) are picked on the CPU (a CUDA one through the host).
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// x with the order of its elements reversed along each of dims (a copy, as torch.flip).
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);
// index int64 [*] in [0, num_classes) -> int64 [*, num_classes] with a 1 at each index, as
// torch.nn.functional.one_hot; num_classes -1 takes max(index) + 1.
Tensor one_hot(const Tensor& index, int64_t num_classes = -1);
// out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (and so on), as torch.gather: index int64 of
// x's rank, no larger than x but along dim; out has index's shape. A bad index is an error at
// the call on the CPU; on CUDA (both ops) it is reported late, as embedding's, its output NaN.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// x sorted along dim (floating), stable: equal values keep their order, NaN last (first when
// descending), as torch.sort(stable=True); indices int64. Gradients reach x through the values.
// On CUDA a bitonic sort: O(n log^2 n) per row of n, the CPU's order to the index.
ValuesIndices sort(const Tensor& x, int64_t dim = -1, bool descending = false);
// sort's indices alone (int64, x's shape), as torch.argsort(stable=True): no values, no graph.
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false);
// The k largest (or smallest) along dim, in order, as torch.topk(sorted=True).
ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true);

}  // namespace hg
