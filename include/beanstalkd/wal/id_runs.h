// A list of job ids kept as runs of consecutive ids. The log remembers which
// jobs had their full record in each file (compaction copies them out); puts
// come in id order, so a file's ids are mostly one long run, and a million
// recovered jobs take a few runs instead of eight bytes each.
#pragma once

#include <cstdint>
#include <vector>

namespace beanstalkd::wal {

class IdRuns {
 public:
  void push_back(std::uint64_t id) {
    if (!runs_.empty() && runs_.back().first + runs_.back().count == id) {
      ++runs_.back().count;
    } else {
      runs_.push_back({id, 1});
    }
  }

  template <typename Visit>
  void for_each(Visit&& visit) const {
    for (const Run& run : runs_)
      for (std::uint64_t i = 0; i < run.count; ++i) visit(run.first + i);
  }

  bool empty() const { return runs_.empty(); }
  std::size_t run_count() const { return runs_.size(); }

 private:
  struct Run {
    std::uint64_t first;
    std::uint64_t count;
  };
  std::vector<Run> runs_;
};

}  // namespace beanstalkd::wal
