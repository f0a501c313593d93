#pragma once
// The chapters of the precision tour, one claim of the mixed-precision lecture each, and what
// they share: where plots go and the MNIST training runs (memoized, so running every chapter
// trains each configuration once).
#include <string>

#include "training.h"

namespace hg::tour {

struct Context {
  std::string out_dir;  // PNG plots (and their data/scripts under data/)
  Trainer* trainer = nullptr;
  double small_lr = 0.0005;  // chapters 3 and 7: the peak lr of the small-update runs
  int loss_shift = -16;      // chapter 7: log2 of the loss factor of the small-gradient runs
};

void chapter_anatomy(Context& ctx);       // 1: bit fields of fp16 / fp32 / bf16
void chapter_resolution(Context& ctx);    // 2: the ulp of every fp16 binade
void chapter_swamping(Context& ctx);      // 3: value + update == value; the lost-update counter
void chapter_underflow(Context& ctx);     // 4: activation gradients against fp16's range
void chapter_loss_scaling(Context& ctx);  // 5: the same after scaling; the dynamic scale
void chapter_accumulation(Context& ctx);  // 6: fp16 vs fp32 accumulation error vs length
void chapter_accuracy(Context& ctx);      // 7: the accuracy tables
void chapter_attention(Context& ctx);     // 8: attention's scores rounded or kept in float
void chapter_recurrent(Context& ctx);     // 9: a recurrent weight's gradient summed over steps

// max |got - reference| / max |reference| (chapters 8 and 9; reference in float64).
double max_relative_error(const Tensor& got, const Tensor& reference);

// "== Chapter N: title ==" and a line of what it claims.
void heading(int number, const std::string& title, const std::string& claim);

}  // namespace hg::tour
