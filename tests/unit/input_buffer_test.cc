// A connection's input buffer: bytes read in at the end come out in order at
// the front, whatever sliding and growing happened between; and when memory
// is short, prepare() offers less room rather than fail while any room can
// be had. This binary replaces operator new[] (the buffer's only allocator)
// so that a test can make it fail.
#include "beanstalkd/server/input_buffer.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace {

// 0: allocations succeed. Otherwise new[] of at least this many bytes throws.
std::size_t fail_new_array_from = 0;

}  // namespace

void* operator new[](std::size_t size) {
  if (fail_new_array_from != 0 && size >= fail_new_array_from) throw std::bad_alloc();
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace beanstalkd::server {
namespace {

constexpr std::size_t kChunk = InputBuffer::kPooledSize;

class FailingNewArray {
 public:
  explicit FailingNewArray(std::size_t from) { fail_new_array_from = from; }
  FailingNewArray(const FailingNewArray&) = delete;
  FailingNewArray& operator=(const FailingNewArray&) = delete;
  ~FailingNewArray() { fail_new_array_from = 0; }
};

// Reads `bytes` in as a recv() into the offered room would: as much as fits.
std::size_t read_in(InputBuffer& in, const std::string& bytes, std::size_t want) {
  std::span<char> room = in.prepare(want);
  const std::size_t n = std::min(room.size(), bytes.size());
  std::memcpy(room.data(), bytes.data(), n);
  in.commit(n);
  return n;
}

std::string pattern(std::size_t n, char seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + static_cast<char>(i % 23));
  return s;
}

TEST(InputBuffer, OffersTheRoomAskedForAndKeepsTheBytesInOrder) {
  InputBuffer in;
  EXPECT_TRUE(in.empty());
  EXPECT_FALSE(in.full());
  EXPECT_EQ(in.prepare(kChunk).size(), kChunk);
  in.commit(0);
  EXPECT_EQ(read_in(in, "put 0 0 60 5\r\nhel", kChunk), 17u);
  EXPECT_EQ(in.view(), "put 0 0 60 5\r\nhel");
  in.consume(14);
  EXPECT_EQ(in.view(), "hel");
}

TEST(InputBuffer, SlidesOrGrowsWithoutLosingUnreadBytes) {
  InputBuffer in;
  const std::string first = pattern(kChunk, 'a');
  ASSERT_EQ(read_in(in, first, kChunk), kChunk);
  EXPECT_TRUE(in.full());
  in.consume(kChunk - 10);  // ten unread bytes at the end

  // A whole chunk more does not fit beside them: the buffer grows.
  const std::string second = pattern(kChunk, 'k');
  ASSERT_EQ(read_in(in, second, kChunk), kChunk);
  EXPECT_EQ(in.view(), first.substr(kChunk - 10) + second);

  // Consumed from the front, then a chunk more: the rest slides to the front.
  in.consume(kChunk);
  const std::string third = pattern(kChunk, 'x');
  ASSERT_EQ(read_in(in, third, kChunk), kChunk);
  EXPECT_EQ(in.view(), second.substr(kChunk - 10) + third);

  in.consume(in.size());
  in.release_if_empty();
  EXPECT_TRUE(in.empty());
  EXPECT_FALSE(in.full());
}

TEST(InputBuffer, WithoutMemoryForTheUsualBufferASmallOneIsOffered) {
  // These hold every spare the pool may have kept from other tests.
  std::vector<InputBuffer> holders(InputBuffer::kMaxSpares);
  for (InputBuffer& h : holders) ASSERT_EQ(read_in(h, "x", kChunk), 1u);

  InputBuffer in;
  FailingNewArray fail(InputBuffer::kFallbackSize + 1);
  std::span<char> room = in.prepare(kChunk);
  EXPECT_EQ(room.size(), InputBuffer::kFallbackSize);
}

TEST(InputBuffer, WithoutMemoryForABiggerBufferTheRoomLeftIsOffered) {
  InputBuffer in;
  const std::string first = pattern(kChunk, 'a');
  ASSERT_EQ(read_in(in, first, kChunk), kChunk);
  in.consume(kChunk - 100);  // 100 unread bytes at the end
  {
    FailingNewArray fail(1);
    std::span<char> room = in.prepare(kChunk);
    EXPECT_EQ(room.size(), kChunk - 100);  // after sliding them to the front
    EXPECT_EQ(in.view(), first.substr(kChunk - 100));
  }
}

TEST(InputBuffer, WithoutAnyRoomNothingChanges) {
  InputBuffer empty;
  {
    FailingNewArray fail(1);
    EXPECT_THROW(empty.prepare(kChunk), std::bad_alloc);
  }
  EXPECT_TRUE(empty.empty());

  InputBuffer full;
  const std::string bytes = pattern(kChunk, 'f');
  ASSERT_EQ(read_in(full, bytes, kChunk), kChunk);
  {
    FailingNewArray fail(1);
    EXPECT_THROW(full.prepare(kChunk), std::bad_alloc);
  }
  EXPECT_TRUE(full.full());
  EXPECT_EQ(full.view(), bytes);
}

}  // namespace
}  // namespace beanstalkd::server
