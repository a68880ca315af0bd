// A connection's unparsed input: one contiguous byte array read into at the
// end and consumed from the front, so a command line is always contiguous
// for the parser without copying it out.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>
#include <vector>

namespace beanstalkd::server {

class InputBuffer {
 public:
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  const char* data() const { return bytes_.data() + begin_; }
  std::string_view view() const { return {data(), size()}; }

  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Room for at least `n` more bytes at the end; returns where to write.
  char* prepare(std::size_t n) {
    if (bytes_.size() - end_ < n) {
      // Slide the unread bytes to the front first; grow only if still short.
      if (begin_ > 0) {
        std::memmove(bytes_.data(), bytes_.data() + begin_, size());
        end_ -= begin_;
        begin_ = 0;
      }
      if (bytes_.size() - end_ < n) bytes_.resize(end_ + n);
    }
    return bytes_.data() + end_;
  }
  void commit(std::size_t n) { end_ += n; }

  // Gives memory back once an idle connection's buffer has grown large.
  void shrink_if_idle(std::size_t keep) {
    if (empty() && bytes_.size() > keep) {
      std::vector<char>().swap(bytes_);
      begin_ = end_ = 0;
    }
  }

 private:
  std::vector<char> bytes_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace beanstalkd::server
