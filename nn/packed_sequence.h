#pragma once
// Variable-length batches for the recurrent layers, as torch.nn.utils.rnn: a PackedSequence
// holds only the real time steps of each sequence, so an LSTM, GRU or RNN given one never reads
// padding, and each sequence's final state is taken at its own last step.
//
//   // x [L, N, F] padded, lengths {5, 3, 2} (any order with enforce_sorted = false)
//   auto packed = nn::utils::rnn::pack_padded_sequence(x, lengths, false, false);
//   auto [out, state] = lstm.forward(packed);                  // out: a PackedSequence
//   auto [y, out_lengths] = nn::utils::rnn::pad_packed_sequence(out);   // y [5, N, H], zeros past
//                                                                       // each length
// All of it is differentiable: gradients reach the padded input through index_select and cat.
#include <optional>
#include <tuple>
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg::nn::utils::rnn {

// torch's layout: the sequences sorted by decreasing length (sorted_indices says which sample
// each position holds), then time-major: data's first batch_sizes[0] rows are step 0 of every
// sequence, the next batch_sizes[1] rows step 1 of those still running, and so on.
struct PackedSequence {
  Tensor data;              // [sum(lengths), *]
  Tensor batch_sizes;       // int64 on the CPU, [longest length]: sequences running at each step
  Tensor sorted_indices;    // int64 [N] (data's device); undefined when the input was sorted
  Tensor unsorted_indices;  // its inverse permutation; undefined with it

  // the batch size, batch_sizes[0]
  int64_t batch() const;
  // batch_sizes as numbers (the steps the layers loop over), checked against data's rows
  std::vector<int64_t> batch_size_vector() const;
};

// input [L, N, *] ([N, L, *] with batch_first), lengths N values in [1, L] -> the packed
// sequences. enforce_sorted: lengths in decreasing order, ties allowed (else an error); false
// sorts them (stably: equal lengths keep their order) and records the permutation.
PackedSequence pack_padded_sequence(const Tensor& input, const std::vector<int64_t>& lengths,
                                    bool batch_first = false, bool enforce_sorted = true);
// lengths as an int64 tensor [N] (on any device), as torch takes them
PackedSequence pack_padded_sequence(const Tensor& input, const Tensor& lengths,
                                    bool batch_first = false, bool enforce_sorted = true);

// The inverse: -> (padded [T, N, *] ([N, T, *] with batch_first) in the original batch order,
// padding_value past each length; lengths int64 [N] on the CPU). T is the longest length, or
// total_length when given (at least the longest).
std::tuple<Tensor, Tensor> pad_packed_sequence(const PackedSequence& sequence,
                                               bool batch_first = false, double padding_value = 0.0,
                                               std::optional<int64_t> total_length = std::nullopt);

// N tensors [L_i, *] (the same * and dtype) -> [max L_i, N, *] ([N, max L_i, *] with
// batch_first), padding_value past each length.
Tensor pad_sequence(const std::vector<Tensor>& sequences, bool batch_first = false,
                    double padding_value = 0.0);

// pack_padded_sequence(pad_sequence(sequences), their lengths, false, enforce_sorted)
PackedSequence pack_sequence(const std::vector<Tensor>& sequences, bool enforce_sorted = true);

}  // namespace hg::nn::utils::rnn
