#include "halfgrad/data/dataloader.h"

#include <algorithm>
#include <utility>

#include "halfgrad/core/error.h"
#include "halfgrad/core/random.h"

namespace hg::data {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// The Philox key of stream `stream` (0: the shuffle, k + 1: augmentation of batch k) of a pass.
uint64_t stream_seed(uint64_t seed, int64_t epoch, uint64_t stream) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^ stream);
}

}  // namespace

std::vector<int64_t> sample_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch) {
  HG_CHECK(n >= 0, "sample_order: expected n >= 0, got ", n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  if (shuffle) {
    random::fill_permutation(order.data(), n, stream_seed(seed, epoch, 0), 0);
  } else {
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  }
  return order;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  ++position_;
  loader_->advance(position_, pass_);
  return *this;
}

DataLoader::DataLoader(Dataset dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  HG_CHECK(options_.batch_size >= 1, "DataLoader: expected batch_size >= 1, got ",
           options_.batch_size);
  HG_CHECK(options_.prefetch >= 0, "DataLoader: expected prefetch >= 0, got ", options_.prefetch);
}

DataLoader::~DataLoader() { stop_worker(); }

int64_t DataLoader::size() const {
  const int64_t n = dataset_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::set_epoch(int64_t epoch) {
  HG_CHECK(epoch >= 0, "DataLoader.set_epoch: expected epoch >= 0, got ", epoch);
  if (epoch != epoch_) resume_batch_ = 0;
  epoch_ = epoch;
}

DataLoaderState DataLoader::state() const {
  if (current_index_ >= 0) return {options_.seed, pass_epoch_, current_index_ + 1};
  return {options_.seed, epoch_, resume_batch_};
}

void DataLoader::set_state(const DataLoaderState& state) {
  HG_CHECK(state.next_batch >= 0 && state.next_batch <= size(), "DataLoader.set_state: batch ",
           state.next_batch, " is outside the pass of ", size(), " batches (", dataset_.size(),
           " samples, batch_size ", options_.batch_size,
           "): was the state saved with another data set or batch size?");
  HG_CHECK(state.epoch >= 0, "DataLoader.set_state: expected epoch >= 0, got ", state.epoch);
  stop_worker();
  ++pass_;
  current_ = Batch{};
  current_index_ = -1;
  options_.seed = state.seed;
  epoch_ = state.epoch;
  resume_batch_ = state.next_batch;
}

DataLoader::Iterator DataLoader::begin() {
  stop_worker();
  ++pass_;
  current_ = Batch{};
  current_index_ = -1;
  order_ = sample_order(dataset_.size(), options_.shuffle, options_.seed, epoch_);
  pass_epoch_ = epoch_++;
  const int64_t first = std::min(resume_batch_, size());
  resume_batch_ = 0;
  built_ = first;
  if (first >= size()) return end();
  if (options_.prefetch > 0) worker_ = std::thread([this, first] { produce(first); });
  current_ = next_batch();
  current_index_ = first;
  return Iterator(this, first, pass_);
}

Batch DataLoader::make_batch(int64_t k) const {
  const int64_t first = k * options_.batch_size;
  const int64_t last = std::min(first + options_.batch_size, dataset_.size());
  const std::vector<int64_t> indices(order_.begin() + first, order_.begin() + last);
  Generator gen(stream_seed(options_.seed, pass_epoch_, static_cast<uint64_t>(k) + 1));
  return dataset_.get_batch(indices, gen);
}

void DataLoader::produce(int64_t first) {
  const int64_t count = size();
  for (int64_t k = first; k < count; ++k) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock,
               [&] { return stop_ || static_cast<int64_t>(queue_.size()) < options_.prefetch; });
      if (stop_) return;
    }
    Slot slot;
    try {
      slot.batch = make_batch(k);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_) return;
      queue_.push_back(std::move(slot));
    }
    cv_.notify_all();
    // after a failed batch the next ones are still made: a loop that catches the error and
    // goes on gets them, as without prefetch (and as PyTorch's loader does)
  }
}

Batch DataLoader::next_batch() {
  if (options_.prefetch == 0) return make_batch(built_++);
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !queue_.empty(); });
    slot = std::move(queue_.front());
    queue_.pop_front();
  }
  cv_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  return std::move(slot.batch);
}

void DataLoader::advance(int64_t position, uint64_t pass) {
  HG_CHECK(pass == pass_, "DataLoader: this iterator's pass was stopped by a later begin() or ",
           "set_state() (a Checkpoint load, say); a loader runs one pass at a time: start a new ",
           "pass with begin()");
  if (position < size()) {
    current_ = next_batch();
    current_index_ = position;
  } else {  // the pass is over: release the last batch and the thread
    current_ = Batch{};
    current_index_ = -1;
    stop_worker();
  }
}

void DataLoader::stop_worker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.clear();
  stop_ = false;
}

}  // namespace hg::data
