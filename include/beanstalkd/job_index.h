// Jobs by id: an open-addressing hash table of Job pointers keyed by the
// job's own id. Eight bytes a slot and no allocation per job, where a
// node-based std::unordered_map costs five times that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "beanstalkd/job.h"

namespace beanstalkd {

class JobIndex {
 public:
  JobIndex();

  std::size_t size() const { return size_; }
  Job* find(std::uint64_t id) const;
  // A hint that `id` will be looked up or inserted soon: starts loading its
  // slot, which in a large table is a cache miss.
  void prefetch(std::uint64_t id) const { __builtin_prefetch(&slots_[slot_of(id)]); }
  // Grows the table now if one more job would, so that the next insert()
  // cannot fail. Throws std::bad_alloc with the index unchanged.
  void make_room_for_one();
  // Precondition: no job with the same id is present.
  void insert(Job* job);
  // Returns false if absent.
  bool erase(std::uint64_t id);

  // Calls fn(Job*) for every job, in no particular order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (Job* job : slots_)
      if (job) fn(job);
  }

 private:
  std::size_t slot_of(std::uint64_t id) const;
  void rehash(std::size_t capacity);

  std::vector<Job*> slots_;  // capacity is a power of two; nullptr = empty
  unsigned shift_ = 0;       // 64 - log2(capacity)
  std::size_t size_ = 0;
};

}  // namespace beanstalkd
