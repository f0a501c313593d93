#pragma once
// halfgrad: a from-scratch C++20 deep-learning framework about mixed-precision training.
// Users include this one header: #include <halfgrad/halfgrad.h>
#include "autograd/anomaly.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "autograd/print_tape.h"
#include "autograd/tape.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/factories.h"
#include "core/half.h"
#include "core/random.h"
#include "core/tensor.h"
#include "nn/nn.h"
#include "optim/optim.h"
