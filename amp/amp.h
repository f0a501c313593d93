#pragma once
// Everything in amp/: autocast, GradScaler, optimization levels and diagnostics.
#include "amp/autocast.h"
#include "amp/diagnostics.h"
#include "amp/grad_scaler.h"
#include "amp/initialize.h"
