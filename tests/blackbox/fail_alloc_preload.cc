// An LD_PRELOAD library for black-box tests: makes the server's allocations
// fail on demand, at the moment the test chooses, without touching the
// server's code.
//
// $FAIL_ALLOC_CONTROL names a file holding a FailAllocControl
// (fail_alloc_control.h). The library maps it shared when it is loaded; the
// test maps the same file and sets `min_size`: while it is not 0, every
// allocation of at least that many bytes fails (malloc and its relatives
// return null, so operator new throws std::bad_alloc), and `failures` counts
// them. A size threshold rather than "everything" keeps the small
// allocations of logging and bookkeeping working, as a heap does that has no
// large free block left.
//
// The originals are glibc's exported __libc_* entry points: no dlsym (which
// itself allocates), no recursion. Not for sanitizer builds, whose runtimes
// own malloc.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fail_alloc_control.h"

extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* old, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
}

namespace {

bbt::FailAllocControl* control = nullptr;

// Runs before main. An allocation made before it (in another library's
// constructor) never fails.
__attribute__((constructor)) void map_control() {
  const char* path = std::getenv(bbt::kFailAllocControlVariable);
  if (!path) return;
  const int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  void* shared =
      ::mmap(nullptr, sizeof(bbt::FailAllocControl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (shared != MAP_FAILED) control = static_cast<bbt::FailAllocControl*>(shared);
}

bool refuse(std::size_t size) {
  if (!control) return false;
  const std::uint64_t min_size = control->min_size.load(std::memory_order_relaxed);
  if (min_size == 0 || size < min_size) return false;
  control->failures.fetch_add(1, std::memory_order_relaxed);
  errno = ENOMEM;  // as glibc's malloc sets it; libevent reads it after a failed read
  return true;
}

}  // namespace

extern "C" {

void* malloc(std::size_t size) noexcept {
  return refuse(size) ? nullptr : __libc_malloc(size);
}

void* calloc(std::size_t count, std::size_t size) noexcept {
  std::size_t total = 0;
  if (__builtin_mul_overflow(count, size, &total)) total = SIZE_MAX;
  return refuse(total) ? nullptr : __libc_calloc(count, size);
}

void* realloc(void* old, std::size_t size) noexcept {
  return refuse(size) ? nullptr : __libc_realloc(old, size);
}

void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  return refuse(size) ? nullptr : __libc_memalign(alignment, size);
}

void* memalign(std::size_t alignment, std::size_t size) noexcept {
  return refuse(size) ? nullptr : __libc_memalign(alignment, size);
}

int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = refuse(size) ? nullptr : __libc_memalign(alignment, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

}  // extern "C"
