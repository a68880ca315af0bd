// How many times a job was reserved, timed out, released, buried and
// kicked: the five counters `stats-job` shows, the log keeps and a
// restart restores.
#pragma once

#include <cstdint>

namespace beanstalkd {

struct JobCounters {
  std::uint32_t reserves = 0;
  std::uint32_t timeouts = 0;
  std::uint32_t releases = 0;
  std::uint32_t buries = 0;
  std::uint32_t kicks = 0;

  bool any() const { return (reserves | timeouts | releases | buries | kicks) != 0; }
  bool operator==(const JobCounters&) const = default;
};

}  // namespace beanstalkd
