#pragma once
// Everything in amp/: autocast, GradScaler, optimization levels and diagnostics.
#include "halfgrad/amp/autocast.h"
#include "halfgrad/amp/diagnostics.h"
#include "halfgrad/amp/grad_scaler.h"
#include "halfgrad/amp/initialize.h"
