#include "halfgrad/nn/packed_sequence.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"

namespace hg::nn::utils::rnn {

namespace {

std::string lengths_str(const std::vector<int64_t>& lengths) {
  std::string out = "{";
  for (size_t i = 0; i < lengths.size(); ++i) out += (i ? ", " : "") + std::to_string(lengths[i]);
  return out + "}";
}

Tensor int64_on(const std::vector<int64_t>& values, Device device) {
  return from_vector(values, TensorOptions(kInt64).device(device));
}

// The shape of one row of data: [*] of a [R, *] tensor
Shape row_shape(const Tensor& t, int64_t leading_dims) {
  return Shape(t.sizes().begin() + leading_dims, t.sizes().end());
}

// sample -> its position in the packed (sorted) order: unsorted_indices, checked to be a
// permutation, or the identity when the input was sorted
std::vector<int64_t> sorted_positions(const PackedSequence& sequence, int64_t batch) {
  std::vector<int64_t> position(static_cast<size_t>(batch));
  std::iota(position.begin(), position.end(), int64_t{0});
  if (!sequence.unsorted_indices.defined()) return position;
  position = sequence.unsorted_indices.to(kCPU).to_vector<int64_t>();
  std::vector<bool> seen(static_cast<size_t>(batch), false);
  bool permutation = static_cast<int64_t>(position.size()) == batch;
  for (size_t i = 0; permutation && i < position.size(); ++i) {
    const int64_t p = position[i];
    permutation = p >= 0 && p < batch && !seen[static_cast<size_t>(p)];
    if (permutation) seen[static_cast<size_t>(p)] = true;
  }
  HG_CHECK(permutation, "pad_packed_sequence: unsorted_indices ", lengths_str(position),
           " must be a permutation of [0, ", batch, ")");
  return position;
}

}  // namespace

int64_t PackedSequence::batch() const { return batch_size_vector().at(0); }

std::vector<int64_t> PackedSequence::batch_size_vector() const {
  HG_CHECK(data.defined() && data.dim() >= 1 && batch_sizes.defined() &&
               batch_sizes.dtype() == kInt64 && batch_sizes.dim() == 1 && batch_sizes.numel() >= 1,
           "PackedSequence: expected data [rows, *] and int64 batch_sizes [steps], got data ",
           data.defined() ? describe(data) : "undefined", " and batch_sizes ",
           batch_sizes.defined() ? describe(batch_sizes) : "undefined");
  std::vector<int64_t> sizes = batch_sizes.to(kCPU).to_vector<int64_t>();
  const int64_t rows = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  HG_CHECK(
      rows == data.size(0) && std::is_sorted(sizes.rbegin(), sizes.rend()) && sizes.back() >= 1,
      "PackedSequence: batch_sizes ", lengths_str(sizes),
      " must be positive, non-increasing and sum to data's ", data.size(0), " rows");
  return sizes;
}

PackedSequence pack_padded_sequence(const Tensor& input, const std::vector<int64_t>& lengths,
                                    bool batch_first, bool enforce_sorted) {
  HG_CHECK(input.defined() && input.dim() >= 2,
           "pack_padded_sequence: expected input [L, N, *] or [N, L, *] with batch_first, got ",
           input.defined() ? describe(input) : "undefined");
  const Tensor x = batch_first ? input.transpose(0, 1) : input;  // [L, N, *]
  const int64_t steps = x.size(0), batch = x.size(1);
  HG_CHECK(batch >= 1, "pack_padded_sequence: expected at least one sequence, got input ",
           describe(input), " (batch_first ", batch_first, ")");
  HG_CHECK(static_cast<int64_t>(lengths.size()) == batch, "pack_padded_sequence: expected ", batch,
           " lengths (input ", describe(input), ", batch_first ", batch_first, "), got ",
           lengths_str(lengths));
  for (const int64_t length : lengths)
    HG_CHECK(length >= 1 && length <= steps, "pack_padded_sequence: lengths ", lengths_str(lengths),
             " must lie in [1, ", steps, "] for input ", describe(input));
  std::vector<int64_t> order(static_cast<size_t>(batch));
  std::iota(order.begin(), order.end(), int64_t{0});
  const auto longer = [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; };
  if (enforce_sorted)
    HG_CHECK(std::is_sorted(order.begin(), order.end(), longer), "pack_padded_sequence: lengths ",
             lengths_str(lengths),
             " must decrease with enforce_sorted (pass enforce_sorted = false to sort them)");
  else
    std::stable_sort(order.begin(), order.end(), longer);
  // step t holds the sorted sequences longer than t; their rows of x are t * N + order[b]
  std::vector<int64_t> batch_sizes, rows;
  for (int64_t t = 0; t < lengths[order[0]]; ++t) {
    int64_t running = 0;
    while (running < batch && lengths[order[running]] > t)
      rows.push_back(t * batch + order[running++]);
    batch_sizes.push_back(running);
  }
  PackedSequence packed;
  packed.data = x.flatten(0, 1).index_select(0, int64_on(rows, input.device()));
  packed.batch_sizes = int64_on(batch_sizes, kCPU);
  if (!enforce_sorted) {
    std::vector<int64_t> inverse(order.size());
    for (size_t i = 0; i < order.size(); ++i) inverse[static_cast<size_t>(order[i])] = int64_t(i);
    packed.sorted_indices = int64_on(order, input.device());
    packed.unsorted_indices = int64_on(inverse, input.device());
  }
  return packed;
}

PackedSequence pack_padded_sequence(const Tensor& input, const Tensor& lengths, bool batch_first,
                                    bool enforce_sorted) {
  HG_CHECK(lengths.defined() && lengths.dim() == 1 && lengths.dtype() == kInt64,
           "pack_padded_sequence: expected lengths as an int64 tensor [N], got ",
           lengths.defined() ? describe(lengths) : "undefined");
  return pack_padded_sequence(input, lengths.to(kCPU).to_vector<int64_t>(), batch_first,
                              enforce_sorted);
}

std::tuple<Tensor, Tensor> pad_packed_sequence(const PackedSequence& sequence, bool batch_first,
                                               double padding_value,
                                               std::optional<int64_t> total_length) {
  const std::vector<int64_t> batch_sizes = sequence.batch_size_vector();
  const int64_t longest = static_cast<int64_t>(batch_sizes.size()), batch = batch_sizes[0];
  const int64_t steps = total_length.value_or(longest);
  HG_CHECK(steps >= longest, "pad_packed_sequence: total_length ", steps,
           " is shorter than the longest sequence, ", longest);
  const std::vector<int64_t> position = sorted_positions(sequence, batch);
  // every padded element points at its packed row, or at one padding row appended to the data
  const Tensor& data = sequence.data;
  const int64_t padding_row = data.size(0);
  std::vector<int64_t> rows(static_cast<size_t>(steps * batch), padding_row);
  std::vector<int64_t> lengths(static_cast<size_t>(batch), 0);
  int64_t offset = 0;
  for (int64_t t = 0; t < longest; offset += batch_sizes[t], ++t) {
    for (int64_t sample = 0; sample < batch; ++sample) {
      const int64_t p = position[sample];
      if (p >= batch_sizes[t]) continue;
      rows[t * batch + sample] = offset + p;
      ++lengths[sample];
    }
  }
  Shape padding_shape = row_shape(data, 1), padded_shape{steps, batch};
  padded_shape.insert(padded_shape.end(), padding_shape.begin(), padding_shape.end());
  padding_shape.insert(padding_shape.begin(), 1);
  const Tensor extended = cat({data, full(padding_shape, padding_value, data.options())}, 0);
  const Tensor padded =
      extended.index_select(0, int64_on(rows, data.device())).reshape(padded_shape);
  return {batch_first ? padded.transpose(0, 1) : padded, int64_on(lengths, kCPU)};
}

Tensor pad_sequence(const std::vector<Tensor>& sequences, bool batch_first, double padding_value) {
  HG_CHECK(!sequences.empty(), "pad_sequence: expected at least one sequence");
  const Tensor& first = sequences[0];
  int64_t longest = 0;
  for (const Tensor& s : sequences) {
    HG_CHECK(s.defined() && s.dim() >= 1 && first.defined() &&
                 row_shape(s, 1) == row_shape(first, 1) && s.dtype() == first.dtype() &&
                 s.device() == first.device(),
             "pad_sequence: every sequence must be [L_i, *] with the same * and dtype, got ",
             s.defined() ? describe(s) : "undefined", " beside ",
             first.defined() ? describe(first) : "undefined");
    longest = std::max(longest, s.size(0));
  }
  std::vector<Tensor> padded;
  for (const Tensor& s : sequences) {
    if (s.size(0) == longest) {
      padded.push_back(s);
      continue;
    }
    Shape fill_shape = row_shape(s, 1);
    fill_shape.insert(fill_shape.begin(), longest - s.size(0));
    padded.push_back(cat({s, full(fill_shape, padding_value, s.options())}, 0));
  }
  return stack(padded, batch_first ? 0 : 1);
}

PackedSequence pack_sequence(const std::vector<Tensor>& sequences, bool enforce_sorted) {
  const Tensor padded = pad_sequence(sequences);
  std::vector<int64_t> lengths;
  for (const Tensor& s : sequences) lengths.push_back(s.size(0));
  return pack_padded_sequence(padded, lengths, false, enforce_sorted);
}

}  // namespace hg::nn::utils::rnn
