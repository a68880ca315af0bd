// Monotonic time, behind an interface so the store can be tested without
// sleeping. All deadlines in the server (TTR, delays, pauses, reserve
// timeouts) are monotonic nanoseconds: a wall-clock step never fires or
// postpones a timer (a deliberate difference from the reference).
#pragma once

#include <cstdint>

namespace beanstalkd {

using Nanos = std::int64_t;
inline constexpr Nanos kNanosPerSecond = 1'000'000'000;

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since an arbitrary fixed point; never goes backwards.
  virtual Nanos now() const = 0;
};

// CLOCK_MONOTONIC.
class MonotonicClock final : public Clock {
 public:
  Nanos now() const override;
};

// CLOCK_REALTIME nanoseconds: only for what must keep its meaning across a
// reboot (the write-ahead log's times), never for timers.
Nanos wall_clock_now();

// A clock that only moves when told to; for tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Nanos start = kNanosPerSecond * 1000) : now_(start) {}
  Nanos now() const override { return now_; }
  void advance(Nanos by) { now_ += by; }
  void set(Nanos to) { now_ = to; }

 private:
  Nanos now_;
};

}  // namespace beanstalkd
