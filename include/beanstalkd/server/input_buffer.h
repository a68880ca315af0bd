// A connection's unparsed input: one contiguous byte array read into at the
// end and consumed from the front, so a command line is always contiguous
// for the parser without copying it out.
//
// The memory is uninitialised (only bytes actually received are touched) and
// is let go as soon as everything in it has been consumed, so an idle
// connection holds no input buffer at all. Buffers of the standard read size
// go to a small pool of spares instead of back to malloc: handing 64 KiB back
// and forth on every request made glibc move its heap top (brk) and fault in
// fresh pages each time, which showed as latency on one-command-at-a-time
// clients.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string_view>

#include "beanstalkd/server/buffer_pool.h"

namespace beanstalkd::server {

class InputBuffer {
 public:
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  // Unread bytes fill the whole buffer: no room without a bigger one.
  bool full() const { return !empty() && size() == capacity_; }
  const char* data() const { return bytes_.get() + begin_; }
  std::string_view view() const { return {data(), size()}; }

  // The consumed bytes stay readable until the next prepare() or release().
  void consume(std::size_t n) { begin_ += n; }

  // Room at the end for `n` more bytes, or for fewer when memory is short:
  // without memory for a bigger buffer, the room that is left (after
  // sliding the unread bytes to the front), and without any buffer, a
  // small one. Throws std::bad_alloc only when there is no room at all.
  std::span<char> prepare(std::size_t n) {
    if (capacity_ - end_ < n) {
      const std::size_t live = size();
      if (begin_ > 0 && capacity_ - live >= n) {
        slide_to_front();
      } else {
        try {
          std::size_t capacity = capacity_ ? capacity_ : n;
          while (capacity - live < n) capacity *= 2;
          replace_buffer(capacity);
        } catch (const std::bad_alloc&) {
          if (capacity_ == live) {
            if (capacity_ > 0) throw;  // full, and no bigger one to be had
            replace_buffer(std::min(n, kFallbackSize));
          }
          slide_to_front();
          return {bytes_.get() + end_, capacity_ - end_};
        }
      }
    }
    return {bytes_.get() + end_, n};
  }
  void commit(std::size_t n) { end_ += n; }

  // Frees the memory if nothing unread is left in it.
  void release_if_empty() {
    if (!empty() || !bytes_) return;
    give_back(std::move(bytes_), capacity_);
    capacity_ = begin_ = end_ = 0;
  }

  // The size of a connection's reads, and of the buffers the pool keeps.
  static constexpr std::size_t kPooledSize = std::size_t{64} * 1024;
  static constexpr std::size_t kMaxSpares = 16;  // at most 1 MiB kept
  // A buffer small enough to be had when the usual one is not: a worker's
  // delete, which frees memory, still gets read.
  static constexpr std::size_t kFallbackSize = std::size_t{4} * 1024;

 private:
  using Pool = BufferPool<kPooledSize, kMaxSpares>;
  using Buffer = Pool::Buffer;
  static Buffer take_buffer(std::size_t capacity) {
    if (capacity == kPooledSize) return Pool::take();
    return Buffer(new char[capacity]);
  }
  static void give_back(Buffer buffer, std::size_t capacity) {
    if (capacity == kPooledSize) Pool::give_back(std::move(buffer));
  }

  // Moves the unread bytes to the front.
  void slide_to_front() {
    const std::size_t live = size();
    if (begin_ > 0 && live > 0) std::memmove(bytes_.get(), bytes_.get() + begin_, live);
    begin_ = 0;
    end_ = live;
  }

  // Moves the unread bytes into a new buffer of `capacity` bytes; leaves
  // everything as it was if there is no memory for it.
  void replace_buffer(std::size_t capacity) {
    const std::size_t live = size();
    auto bigger = take_buffer(capacity);
    if (live) std::memcpy(bigger.get(), bytes_.get() + begin_, live);
    give_back(std::move(bytes_), capacity_);
    bytes_ = std::move(bigger);
    capacity_ = capacity;
    begin_ = 0;
    end_ = live;
  }

  Buffer bytes_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace beanstalkd::server
