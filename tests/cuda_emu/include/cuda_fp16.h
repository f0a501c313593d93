#pragma once
// The CUDA emulator's stand-in for <cuda_fp16.h>: everything is in tests/cuda_emu/emu_prelude.h.
#include "../emu_prelude.h"
