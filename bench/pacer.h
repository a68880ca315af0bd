#pragma once

#include <cstdint>
#include <limits>

namespace bench {

// Open-loop rate limiter: operation k (counting from 0) is due at start + k / rate. Falling behind
// does not lower the target; the late operations become due at once, as a real fixed-rate
// producer would send them.
class Pacer {
 public:
  Pacer() = default;  // unlimited
  Pacer(double per_second, std::int64_t start_ns) : rate_(per_second), start_ns_(start_ns) {}

  bool limited() const { return rate_ > 0; }

  // How many operations may start at `now_ns`.
  std::int64_t available(std::int64_t now_ns) const {
    if (!limited()) return std::numeric_limits<std::int64_t>::max();
    if (now_ns < start_ns_) return 0;
    const auto due =
        static_cast<std::int64_t>(static_cast<double>(now_ns - start_ns_) * rate_ / 1e9) + 1;
    return due > taken_ ? due - taken_ : 0;
  }

  void take() { ++taken_; }

  // When the next operation becomes due.
  std::int64_t next_due_ns() const {
    if (!limited()) return start_ns_;
    return start_ns_ + static_cast<std::int64_t>(static_cast<double>(taken_) * 1e9 / rate_);
  }

 private:
  double rate_ = 0;
  std::int64_t start_ns_ = 0;
  std::int64_t taken_ = 0;
};

}  // namespace bench
