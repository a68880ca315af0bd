// Spare byte buffers of one size, kept for reuse instead of going back to
// malloc. The server is single-threaded; a pool is shared by its
// connections (InputBuffer keeps its 64 KiB read buffers here, ReplyStaging
// its 16 KiB reply buffers).
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace beanstalkd::server {

template <std::size_t kSize, std::size_t kMaxSpares>
class BufferPool {
 public:
  using Buffer = std::unique_ptr<char[]>;

  // A spare buffer of kSize bytes, or a new one.
  static Buffer take() {
    auto& pool = spares();
    if (pool.empty()) return Buffer(new char[kSize]);
    Buffer b = std::move(pool.back());
    pool.pop_back();
    return b;
  }

  // Keeps `buffer` (of kSize bytes) as a spare, or frees it if the pool is full.
  static void give_back(Buffer buffer) {
    if (buffer && spares().size() < kMaxSpares) spares().push_back(std::move(buffer));
  }

 private:
  static std::vector<Buffer>& spares() {
    static std::vector<Buffer> pool;
    return pool;
  }
};

}  // namespace beanstalkd::server
