// The jobs one session holds. Adding and removing are O(1) without a link
// inside the job: a held job is in no tube heap, so its heap_index serves as
// its position here. Each entry remembers when it was reserved, because a
// disconnect returns the held jobs in that order, as the reference does.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "beanstalkd/job.h"
#include "beanstalkd/vector_room.h"

namespace beanstalkd {

class ReservedJobs {
 public:
  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }

  // Makes room for one more (growing by doubling), so that add() cannot
  // fail. Throws std::bad_alloc with nothing changed.
  void make_room_for_one() { make_room(entries_, entries_.size() + 1); }

  void add(Job* job) {
    job->heap_index = static_cast<HeapIndex>(entries_.size());
    entries_.push_back({job, next_order_++});
  }

  // One of the held jobs; precondition: !empty().
  Job* any() const { return entries_.back().job; }

  // Precondition: `job` is held here.
  void remove(Job* job) {
    const std::size_t at = job->heap_index;
    entries_[at] = entries_.back();
    entries_[at].job->heap_index = static_cast<HeapIndex>(at);
    entries_.pop_back();
    job->heap_index = kNotInHeap;
  }

  // Calls fn(Job*) for every held job, in no particular order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const Entry& e : entries_) fn(e.job);
  }
  template <typename Pred>
  bool any_of(Pred&& pred) const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const Entry& e) { return pred(e.job); });
  }

  // The held jobs, oldest reservation first.
  std::vector<Job*> in_reservation_order() const {
    std::vector<Entry> sorted = entries_;
    std::sort(sorted.begin(), sorted.end(),
              [](const Entry& a, const Entry& b) { return a.order < b.order; });
    std::vector<Job*> jobs;
    jobs.reserve(sorted.size());
    for (const Entry& e : sorted) jobs.push_back(e.job);
    return jobs;
  }

 private:
  struct Entry {
    Job* job;
    std::uint64_t order;
  };
  std::vector<Entry> entries_;
  std::uint64_t next_order_ = 0;
};

}  // namespace beanstalkd
