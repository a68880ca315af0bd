#include "beanstalkd/job_index.h"

#include <bit>
#include <new>

namespace beanstalkd {

namespace {
constexpr std::size_t kMinCapacity = 16;
}

namespace {
unsigned shift_for(std::size_t capacity) {
  return static_cast<unsigned>(64 - std::countr_zero(capacity));
}
}  // namespace

JobIndex::JobIndex() : slots_(kMinCapacity, nullptr), shift_(shift_for(kMinCapacity)) {}

std::size_t JobIndex::slot_of(std::uint64_t id) const {
  // Fibonacci hashing: the top bits of id * 2^64/phi. Sequential ids, the
  // common case, land in distinct slots with no probing at all.
  return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ULL) >> shift_);
}

Job* JobIndex::find(std::uint64_t id) const {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = slot_of(id);; i = (i + 1) & mask) {
    Job* job = slots_[i];
    if (!job) return nullptr;
    if (job->id == id) return job;
  }
}

void JobIndex::make_room_for_one() {
  // Keep the load factor at or below 3/4.
  if ((size_ + 1) * 4 > slots_.size() * 3) rehash(slots_.size() * 2);
}

void JobIndex::insert(Job* job) {
  make_room_for_one();
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = slot_of(job->id);
  while (slots_[i]) i = (i + 1) & mask;
  slots_[i] = job;
  ++size_;
}

bool JobIndex::erase(std::uint64_t id) {
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = slot_of(id);
  while (slots_[i] && slots_[i]->id != id) i = (i + 1) & mask;
  if (!slots_[i]) return false;
  // Backward-shift deletion: pull later members of the probe run into the
  // hole so lookups never need tombstones.
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & mask; slots_[j]; j = (j + 1) & mask) {
    std::size_t home = slot_of(slots_[j]->id);
    // Move slots_[j] into the hole unless its home lies cyclically in (hole, j].
    bool home_between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!home_between) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = nullptr;
  --size_;
  // Give memory back after a large drain. That needs a smaller table first:
  // with no memory for one, the large one stays, since a delete must work
  // when memory is short.
  if (slots_.size() > kMinCapacity && size_ * 8 < slots_.size()) {
    try {
      rehash(slots_.size() / 4);
    } catch (const std::bad_alloc&) {
    }
  }
  return true;
}

void JobIndex::rehash(std::size_t capacity) {
  if (capacity < kMinCapacity) capacity = kMinCapacity;
  std::vector<Job*> old(capacity, nullptr);
  old.swap(slots_);
  shift_ = shift_for(capacity);
  const std::size_t mask = slots_.size() - 1;
  for (Job* job : old) {
    if (!job) continue;
    std::size_t i = slot_of(job->id);
    while (slots_[i]) i = (i + 1) & mask;
    slots_[i] = job;
  }
}

}  // namespace beanstalkd
