// tril, triu, roll and repeat (autograd/ops.h): composites of where, index_select and expand,
// so they take every dtype and backend those do, and their gradients are those parts'.
#include <string>
#include <vector>

#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

// x where keep(col - row) over the last two dims, else 0 (x's dtype, a 0-dim operand).
Tensor triangle(const Tensor& x, bool lower, int64_t diagonal, const char* op) {
  autograd::check_defined(x, op);
  HG_CHECK(x.dim() >= 2, op, ": expected a tensor with at least 2 dims, got ", describe(x));
  const TensorOptions index(TensorOptions(kInt64).device(x.device()));
  const Tensor rows = arange(x.size(-2), index).unsqueeze(1);
  const Tensor offset = arange(x.size(-1), index) - rows;  // [rows, cols]: col - row
  const Tensor bound = scalar_tensor(static_cast<double>(diagonal), index);
  const Tensor keep = lower ? le(offset, bound) : ge(offset, bound);
  return where(keep, x, scalar_tensor(0.0, x.options()));
}

std::string list_str(const std::vector<int64_t>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "}";
}

}  // namespace

Tensor tril(const Tensor& x, int64_t diagonal) { return triangle(x, true, diagonal, "tril"); }
Tensor triu(const Tensor& x, int64_t diagonal) { return triangle(x, false, diagonal, "triu"); }

// Element i of a rolled dim comes from (i - shift) mod n. No dims: x flattened, rolled, reshaped.
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
  autograd::check_defined(x, "roll");
  if (dims.empty()) {
    HG_CHECK(shifts.size() == 1, "roll: without dims, give one shift, got ", list_str(shifts),
             " for ", describe(x));
    return roll(x.flatten(), shifts, {0}).reshape(x.sizes());
  }
  HG_CHECK(shifts.size() == dims.size(), "roll: ", shifts.size(), " shifts ", list_str(shifts),
           " for ", dims.size(), " dims ", list_str(dims), " of ", describe(x));
  Tensor out = x;
  for (size_t k = 0; k < dims.size(); ++k) {
    const int64_t d = wrap_sized_dim(dims[k], x, "roll");
    const int64_t n = x.size(d);
    if (n == 0) continue;
    std::vector<int64_t> source(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) source[i] = (((i - shifts[k]) % n) + n) % n;
    out = index_select(out, d, from_vector(source, TensorOptions(kInt64)).to(x.device()));
  }
  return out.is_same(x) ? x.clone() : out;
}

// torch's x.repeat: x viewed with leading 1s up to repeats' length, each dim tiled: one expand
// of [r0, s0, r1, s1, ...] and one copy by reshape; expand's backward sums the tiles.
Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats) {
  autograd::check_defined(x, "repeat");
  HG_CHECK(repeats.size() >= static_cast<size_t>(x.dim()), "repeat: ", repeats.size(), " repeats ",
           list_str(repeats), " for ", describe(x), " (at least one per dim)");
  const size_t lead = repeats.size() - static_cast<size_t>(x.dim());
  Shape interleaved, expanded, result;
  for (size_t i = 0; i < repeats.size(); ++i) {
    HG_CHECK(repeats[i] >= 0, "repeat: negative count in ", list_str(repeats), " for ",
             describe(x));
    const int64_t size = i < lead ? 1 : x.size(static_cast<int64_t>(i - lead));
    interleaved.insert(interleaved.end(), {1, size});
    expanded.insert(expanded.end(), {repeats[i], size});
    result.push_back(repeats[i] * size);
  }
  return x.reshape(interleaved).expand(expanded).reshape(result);
}

}  // namespace hg
