#pragma once
// The consumer's own core/error.h (as data/dataset.h beside it): never halfgrad's.
inline constexpr int kConsumerErrors = 0;
