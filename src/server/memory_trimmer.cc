#include "beanstalkd/server/memory_trimmer.h"

#include <malloc.h>

namespace beanstalkd::server {

void MemoryTrimmer::after_turn(std::uint64_t jobs) {
  if (jobs > high_mark_) {
    high_mark_ = jobs;
    return;
  }
  if (high_mark_ - jobs >= kMinDrop && jobs <= high_mark_ / 2) {
    trim_now();
    high_mark_ = jobs;
  }
}

void MemoryTrimmer::trim_now() {
  malloc_trim(0);
  ++trims_;
}

}  // namespace beanstalkd::server
