// Command latency by command, in fixed buckets, for the metrics endpoint:
// the time from parsing a command to its reply being queued (a reserve that
// waits counts only until it starts waiting). Recorded only while the
// metrics endpoint is on.
#pragma once

#include <array>
#include <cstdint>

#include "beanstalkd/clock.h"
#include "beanstalkd/protocol/command.h"

namespace beanstalkd::server {

// Upper bounds in seconds; a last, implicit bucket is +Inf.
inline constexpr std::array<double, 12> kLatencyBounds = {0.000001, 0.0000025, 0.000005, 0.00001,
                                                          0.000025, 0.00005,   0.0001,   0.00025,
                                                          0.0005,   0.001,     0.01,     0.1};

struct LatencyHistogram {
  std::array<std::uint64_t, kLatencyBounds.size() + 1> buckets{};  // not cumulative
  std::uint64_t count = 0;
  double seconds_total = 0;

  void record(Nanos took) {
    const double seconds = static_cast<double>(took) / 1e9;
    std::size_t i = 0;
    while (i < kLatencyBounds.size() && seconds > kLatencyBounds[i]) ++i;
    ++buckets[i];
    ++count;
    seconds_total += seconds;
  }
};

using CommandLatencies = std::array<LatencyHistogram, protocol::kOpCount>;

}  // namespace beanstalkd::server
