#pragma once
// Shapes, strides and the rules that relate them: broadcasting, contiguity, dim wrapping.
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace hg {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3]"
// std::cout << t.sizes() prints shape_str's "[2, 3]" (found where namespace hg is: inside it, or
// after `using namespace hg`; Shape is a std::vector, so elsewhere write shape_str).
std::ostream& operator<<(std::ostream& out, const Shape& shape);

// Maps a possibly negative dim into [0, ndim); throws hg::Error naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, std::string_view op);
// wrap_dim for ops that read the dimension's size or stride (size, stride, select, slice,
// narrow): a 0-dim tensor has none, so any dim is an error there.
int64_t wrap_sized_dim(int64_t dim, int64_t ndim, std::string_view op);

// NumPy broadcasting of two shapes; throws hg::Error naming `op` when they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op);

// Strides of a view of (sizes, strides) with the new shape `target`, or an empty result when
// the layout cannot be viewed that way without a copy. `target` must have the same numel.
bool compute_view_strides(const Shape& sizes, const Shape& strides, const Shape& target,
                          Shape& out_strides);

// Resolves a single -1 in a requested shape; throws hg::Error on a numel mismatch.
Shape infer_shape(const Shape& requested, int64_t numel, std::string_view op, const Shape& from);

}  // namespace hg
