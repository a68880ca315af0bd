// A run of failed attempts at something the server retries on a timer
// (accepting connections, writing the log), and when it deserves a log
// line: at its start, when the failure changes, and once a minute while it
// lasts, so a condition that lasts an hour costs a few dozen lines, not one
// per retry. The caller words the lines; this keeps
// the times and the count.
#pragma once

#include <cstdint>

#include "beanstalkd/clock.h"

namespace beanstalkd {

class FailureEpisode {
 public:
  enum class Report : std::uint8_t { Start, Reminder, Quiet };

  static constexpr Nanos kRemindEvery = 60 * kNanosPerSecond;

  bool active() const { return active_; }

  // An attempt failed at `now`; `changed`: differently from the last one.
  Report failed(Nanos now, bool changed = false) {
    if (!active_) {
      active_ = true;
      started_at_ = reported_at_ = now;
      retries_ = 0;
      return Report::Start;
    }
    ++retries_;
    if (!changed && now - reported_at_ < kRemindEvery) return Report::Quiet;
    reported_at_ = now;
    return Report::Reminder;
  }

  // Time since the first failure, and attempts made after it.
  Nanos lasted(Nanos now) const { return now - started_at_; }
  std::uint64_t retries() const { return retries_; }

  // The attempt at `now` succeeded: it counts as a retry, and the episode
  // is over. Returns how long it lasted.
  Nanos end(Nanos now) {
    ++retries_;
    active_ = false;
    return lasted(now);
  }

 private:
  bool active_ = false;
  Nanos started_at_ = 0;
  Nanos reported_at_ = 0;
  std::uint64_t retries_ = 0;
};

}  // namespace beanstalkd
