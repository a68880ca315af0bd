#include "beanstalkd/server/emergency_memory.h"

#include <sys/mman.h>

namespace beanstalkd::server {

// Mapped, not malloc'd, so that giving it back returns the address space
// and the commit charge at once, whatever the allocator's thresholds. It is
// never touched: it costs no resident memory, only what a limit on address
// space (RLIMIT_AS) or on committed memory (vm.overcommit_memory=2) counts,
// which is where allocations fail instead of the process being killed.
EmergencyMemory::EmergencyMemory(std::size_t bytes) : bytes_(bytes) {
  memory_ = map(bytes_);
}

EmergencyMemory::~EmergencyMemory() {
  release();
}

bool EmergencyMemory::release() {
  if (!memory_) return false;
  ::munmap(memory_, bytes_);
  memory_ = nullptr;
  return true;
}

void* EmergencyMemory::map(std::size_t bytes) {
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return memory == MAP_FAILED ? nullptr : memory;
}

bool EmergencyMemory::hold() {
  if (memory_) return true;
  void* both = map(2 * bytes_);
  if (!both) return false;
  ::munmap(static_cast<char*>(both) + bytes_, bytes_);
  memory_ = both;
  return true;
}

}  // namespace beanstalkd::server
