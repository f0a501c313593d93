#pragma once
// Fused attention: softmax(q k^T * scale + mask) v for a batch of independent problems, one pass
// forward and one backward, computed in float (double for fp64) and rounded once to the dtype:
// the scores and the weights are never rounded to 16 bits, and no [B, L, S] tensor but the
// weights the backward needs is written (in the compute type). Not flash attention: the weights
// are kept, not rebuilt from a log-sum-exp, which costs memory B L S but no second exp per
// weight (what the CPU's step time is made of at these sizes).
//
// Views: q [B, L, E], k [B, S, E], v [B, S, Ev], out and grad_out [B, L, Ev], contiguous, one
// floating dtype T (the gradients too). mask: null, or [B, L, S] of the compute dtype (float32;
// float64 for fp64), any strides (0 where it broadcasts), added to the scaled scores (-inf hides
// a key). causal: query i sees keys 0..i. weights [B, L, S], the compute dtype, contiguous:
// written by the forward, read by the backward.
#include "halfgrad/kernels/dispatch.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::kernels {

using AttentionFn = void (*)(const TensorView& q, const TensorView& k, const TensorView& v,
                             const TensorView* mask, bool causal, double scale,
                             const TensorView& out, const TensorView& weights);
using AttentionBackwardFn = void (*)(const TensorView& q, const TensorView& k, const TensorView& v,
                                     const TensorView& weights, double scale,
                                     const TensorView& grad_out, const TensorView& grad_q,
                                     const TensorView& grad_k, const TensorView& grad_v);

extern DispatchTable<AttentionFn> attention;
extern DispatchTable<AttentionBackwardFn> attention_backward;

}  // namespace hg::kernels
