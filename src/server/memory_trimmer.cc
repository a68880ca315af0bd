#include "beanstalkd/server/memory_trimmer.h"

#include <malloc.h>

namespace beanstalkd::server {

bool MemoryTrimmer::due(std::uint64_t jobs) {
  if (jobs > high_mark_) {
    high_mark_ = jobs;
    return false;
  }
  if (high_mark_ - jobs >= kMinDrop && jobs <= high_mark_ / 2) {
    high_mark_ = jobs;
    return true;
  }
  return false;
}

void MemoryTrimmer::trim_now() {
  malloc_trim(0);
  ++trims_;
}

}  // namespace beanstalkd::server
