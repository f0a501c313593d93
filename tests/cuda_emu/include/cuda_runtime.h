#pragma once
// The CUDA emulator's stand-in for <cuda_runtime.h>: everything is in tests/cuda_emu/emu_prelude.h.
#include "../emu_prelude.h"
