// How long the event loop keeps polling for new events before it blocks.
//
// A blocked event loop costs its next request a wake-up: on a virtual
// machine the sleeping CPU must be woken by the hypervisor, which takes tens
// of microseconds, more than the server spends on the request itself. When
// requests arrive in quick succession, polling without blocking for a few
// microseconds catches the next one with no wake-up at all; when they are
// far apart, polling only burns CPU.
//
// The window adapts the way the Linux kernel's guest halt-polling does
// (drivers/cpuidle/governors/haltpoll.c): after a blocking wait that ended
// within the maximum window, a longer window would have caught the event,
// so the window grows (to a starting size, then doubling); after a wait
// longer than the maximum, polling could not have helped and the window
// halves towards zero. An idle or lightly loaded server therefore never
// polls, and a busy one polls at most `max_window` per turn.
#pragma once

#include "beanstalkd/clock.h"

namespace beanstalkd::server {

class IdlePoll {
 public:
  // The first window after growing from zero.
  static constexpr Nanos kStartWindow = 10'000;  // 10 us

  // max_window 0 turns polling off.
  explicit IdlePoll(Nanos max_window) : max_window_(max_window) {}

  // How long to poll before blocking, now.
  Nanos window() const { return window_; }
  Nanos max_window() const { return max_window_; }

  // A blocking wait lasted `blocked` before an event ended it.
  void blocked_for(Nanos blocked);

 private:
  void shrink();

  Nanos max_window_;
  Nanos window_ = 0;
};

}  // namespace beanstalkd::server
