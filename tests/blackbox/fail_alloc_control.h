// The control block that fail_alloc_preload.cc (loaded into a server with
// LD_PRELOAD) and a test share through a mapped file: the test says which
// allocations fail, the library counts those that did.
#pragma once

#include <atomic>
#include <cstdint>

namespace bbt {

struct FailAllocControl {
  // 0: nothing fails. Otherwise every allocation of at least this many bytes
  // fails, from the next one on.
  std::atomic<std::uint64_t> min_size{0};
  // How many allocations the library has refused.
  std::atomic<std::uint64_t> failures{0};
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "the block is shared between processes");

// The variable naming the control file in the server's environment.
inline constexpr const char* kFailAllocControlVariable = "FAIL_ALLOC_CONTROL";

}  // namespace bbt
