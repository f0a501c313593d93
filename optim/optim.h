#pragma once
// hg::optim: optimizers, learning-rate schedulers and gradient clipping (libtorch names).
#include "optim/adam.h"
#include "optim/adamw.h"
#include "optim/clip_grad.h"
#include "optim/cosine_annealing_lr.h"
#include "optim/exponential_lr.h"
#include "optim/linear_warmup.h"
#include "optim/lr_scheduler.h"
#include "optim/multi_step_lr.h"
#include "optim/one_cycle_lr.h"
#include "optim/optimizer.h"
#include "optim/sgd.h"
#include "optim/step_lr.h"
