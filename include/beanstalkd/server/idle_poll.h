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
// halves towards zero.
//
// The loop polls only while it is busy at least half of the time (load, an
// average over the last few milliseconds). A mostly idle server gains little
// from polling, and a polling server keeps a CPU to itself, which pushes its
// clients onto the other CPUs where waking them costs more: measured on a
// 2-CPU machine, a client sending 10,000 jobs/s saw its delivery latency
// triple when the server polled.
//
// Polling is off unless asked for (--busy-poll): it is free only while a
// CPU would otherwise sit idle. On the same machine, with two CPU-bound
// processes running beside the server and eight clients cycling
// put-reserve-delete, the clients' throughput fell from about 60,000 to
// 28,000-43,000 cycles/s when the server polled, and their p99 rose from
// 0.2 ms to as much as 5 ms. Neither the loop's load, nor samples of the
// machine's runnable threads, nor gaps in the polling loop (a sign of
// being preempted) told that case apart reliably enough to decide alone.
#pragma once

#include "beanstalkd/clock.h"

namespace beanstalkd::server {

class IdlePoll {
 public:
  // The first window after growing from zero.
  static constexpr Nanos kStartWindow = 10'000;  // 10 us
  // Load below which the loop never polls.
  static constexpr double kMinLoad = 0.5;
  // The load average forgets a turn with this time constant.
  static constexpr Nanos kLoadTimeConstant = 5'000'000;  // 5 ms

  // max_window 0 turns polling off.
  explicit IdlePoll(Nanos max_window) : max_window_(max_window) {}

  // How long to poll before blocking, now.
  Nanos window() const { return load_ >= kMinLoad ? window_ : 0; }
  Nanos max_window() const { return max_window_; }
  // Fraction of recent time spent working rather than waiting.
  double load() const { return load_; }

  // A blocking wait lasted `blocked` before an event ended it.
  void blocked_for(Nanos blocked);
  // One turn of the loop took `total`, of which `idle` was spent waiting
  // (polling or blocked).
  void record_turn(Nanos idle, Nanos total);

 private:
  Nanos max_window_;
  Nanos window_ = 0;
  double load_ = 0;
};

}  // namespace beanstalkd::server
