#pragma once
// The consumer's own data/dataset.h, on its include path before halfgrad's: halfgrad's headers
// include theirs as "halfgrad/data/dataset.h", so this one cannot stand in for it.
struct ConsumerDataset {
  int size = 3;
};
