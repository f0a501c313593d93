#pragma once
// DataLoader: iterates a Dataset in batches, optionally shuffled, with the next batches prepared
// ahead by a background thread.
//
//   hg::data::DataLoader loader(train, {.batch_size = 128, .shuffle = true, .seed = 1});
//   for (int64_t epoch = 0; epoch < 10; ++epoch) {
//     loader.set_epoch(epoch);
//     for (auto& batch : loader) { /* batch.data float32 [B, C, H, W], batch.target int64 [B] */ }
//   }
//
// Reproducibility: the sample order of a pass is a function of (seed, epoch) only, and the
// augmentation of batch k draws from a Generator seeded from (seed, epoch, k) only, so the same
// options and epoch give the same batches bit for bit, with or without prefetching and whatever
// else uses the default generator. Each pass (each begin()) uses epoch() and then advances it by
// one, so a loop that never calls set_epoch still sees a new order every epoch.
//
// Resuming mid-epoch: state() says where the data order stands (seed, the epoch of the pass in
// progress or the next one, and the next batch to hand out); set_state() on a loader over the
// same data set makes its next pass start at that batch of that epoch, producing the very batches
// (order and augmentation) the interrupted run would have seen. train::Checkpoint stores it.
//
// One pass at a time: begin() and set_state() (so a train::Checkpoint load) stop any pass in
// progress, and advancing an iterator of a stopped pass is an hg::Error (nested loops over one
// loader are not supported). Destroying the loader mid-pass stops and joins the background
// thread (it finishes at most the batch it is building).
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <iterator>
#include <mutex>
#include <thread>
#include <vector>

#include "halfgrad/data/dataset.h"

namespace hg::data {

struct DataLoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = false;
  bool drop_last = false;  // drop the last, smaller batch
  uint64_t seed = 0;
  int64_t prefetch = 2;  // batches prepared ahead by a background thread; 0: no thread
};

// Where a loader's data order stands (see DataLoader::state()).
struct DataLoaderState {
  uint64_t seed = 0;
  int64_t epoch = 0;       // the epoch of the next batch
  int64_t next_batch = 0;  // its index in that epoch's pass
  friend bool operator==(const DataLoaderState&, const DataLoaderState&) = default;
};

// The sample order of one pass: 0..n-1, or a uniform random permutation (Fisher-Yates) drawn
// from a Philox stream keyed by (seed, epoch).
std::vector<int64_t> sample_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch);

class DataLoader {
 public:
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = Batch*;
    using reference = Batch&;

    Iterator() = default;
    Batch& operator*() const { return loader_->current_; }
    Batch* operator->() const { return &loader_->current_; }
    Iterator& operator++();
    bool operator==(const Iterator& other) const { return position_ == other.position_; }

   private:
    friend class DataLoader;
    Iterator(DataLoader* loader, int64_t position, uint64_t pass)
        : loader_(loader), position_(position), pass_(pass) {}
    DataLoader* loader_ = nullptr;
    int64_t position_ = 0;
    uint64_t pass_ = 0;  // the pass it walks (DataLoader::pass_ when it began)
  };

  explicit DataLoader(Dataset dataset, DataLoaderOptions options = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Number of batches per pass: ceil(N / batch_size), or floor with drop_last.
  int64_t size() const;
  const Dataset& dataset() const { return dataset_; }
  const DataLoaderOptions& options() const { return options_; }
  // The epoch the next pass uses.
  int64_t epoch() const { return epoch_; }
  // Keeps a position set by set_state() only when epoch is the epoch it names.
  void set_epoch(int64_t epoch);

  // The next batch the training loop would take: during a pass, the one after the current batch
  // (the loop is working on the current one; during the last batch, size(): the epoch is done),
  // else the first batch of the next pass. A state saved during a pass thus names the epoch the
  // loop is in, so a resumed loop's set_epoch(epoch) keeps it.
  DataLoaderState state() const;
  // Stops any pass; the next begin() runs epoch state.epoch from batch state.next_batch (later
  // passes start at 0) with state.seed; next_batch == size() makes that pass empty (its epoch
  // was done). Throws hg::Error for a batch outside [0, size()].
  void set_state(const DataLoaderState& state);

  // Starts a pass (stopping any pass in progress) and returns its first batch.
  Iterator begin();
  Iterator end() { return Iterator(this, size(), pass_); }

 private:
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };

  Batch make_batch(int64_t k) const;
  void produce(int64_t first);  // the background thread, batches first .. size()-1
  Batch next_batch();           // the next batch of the pass, from the queue or built in place
  void advance(int64_t position, uint64_t pass);
  void stop_worker();

  Dataset dataset_;
  DataLoaderOptions options_;
  int64_t epoch_ = 0;
  int64_t resume_batch_ = 0;  // where the next pass starts (set_state)

  // The pass in progress.
  std::vector<int64_t> order_;
  int64_t pass_epoch_ = 0;
  uint64_t pass_ = 0;           // counts the passes begun and stopped: iterators check it
  int64_t built_ = 0;           // batches built without a thread (prefetch == 0)
  int64_t current_index_ = -1;  // the batch in current_, -1 outside a pass
  Batch current_;

  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Slot> queue_;
  bool stop_ = false;
};

}  // namespace hg::data
