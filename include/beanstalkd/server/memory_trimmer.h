// Gives freed memory back to the operating system after a large drain.
// glibc keeps freed small chunks in its heap for reuse, so a server that
// held a million jobs and deleted them would otherwise keep their memory
// resident for good. malloc_trim walks the heap (milliseconds for a large
// one), so it runs only after the job count has fallen by half from a high
// mark, and by many jobs.
#pragma once

#include <cstdint>

namespace beanstalkd::server {

class MemoryTrimmer {
 public:
  // Call once per loop turn with the current number of jobs: true when
  // it is time to give memory back (then call trim_now()).
  bool due(std::uint64_t jobs);
  // Returns what is free now, once: after replaying the log, whose file
  // buffers were freed among the recovered jobs.
  void trim_now();
  std::uint64_t trims() const { return trims_; }

 private:
  static constexpr std::uint64_t kMinDrop = 20000;
  std::uint64_t high_mark_ = 0;
  std::uint64_t trims_ = 0;
};

}  // namespace beanstalkd::server
