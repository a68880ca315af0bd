// A job as read back from a log directory, ready to be put back into the
// store. Produced by the project's own log reader and by the importer of
// the reference server's binlog files.
#pragma once

#include <cstdint>
#include <string>

#include "beanstalkd/job.h"

namespace beanstalkd::wal {

struct RecoveredJob {
  std::uint64_t id = 0;
  std::string tube;
  std::uint32_t priority = 0;
  std::uint32_t delay_seconds = 0;  // as given by the last put or release
  std::uint32_t ttr_seconds = 1;
  // Ready, Delayed or Buried. A job that was reserved when the server
  // stopped comes back Ready.
  JobState state = JobState::Ready;
  // Wall-clock times (CLOCK_REALTIME nanoseconds), so they survive a reboot.
  std::int64_t created_at_wall = 0;
  std::int64_t ready_at_wall = 0;  // Delayed only: when it becomes ready
  JobCounters counts;
  // Buried only: jobs come back in ascending order of this (oldest burial first).
  std::uint64_t bury_order = 0;
  std::string body;  // without the trailing CRLF
};

}  // namespace beanstalkd::wal
