// The YAML bodies of stats, stats-tube, stats-job, list-tubes and
// list-tubes-watched: the reference's keys in the reference's order, with
// string values double-quoted as beanstalkd 1.13 does. Pure functions of
// plain values, so the layout is testable on its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "beanstalkd/job_counters.h"
#include "beanstalkd/protocol/command.h"
#include "beanstalkd/tube.h"

namespace beanstalkd::protocol {

struct ServerStats {
  std::uint64_t jobs_urgent = 0, jobs_ready = 0, jobs_reserved = 0, jobs_delayed = 0,
                jobs_buried = 0;
  CommandCounts commands{};
  std::uint64_t job_timeouts = 0;
  std::uint64_t total_jobs = 0;
  std::uint64_t max_job_size = 0;
  std::uint64_t current_tubes = 0;
  std::uint64_t current_connections = 0;
  std::uint64_t current_producers = 0;
  std::uint64_t current_workers = 0;
  std::uint64_t current_waiting = 0;
  std::uint64_t total_connections = 0;
  std::int64_t pid = 0;
  std::string_view version;
  std::int64_t rusage_utime_us = 0;  // microseconds
  std::int64_t rusage_stime_us = 0;
  std::uint64_t uptime_seconds = 0;
  std::uint64_t binlog_oldest_index = 0;
  std::uint64_t binlog_current_index = 0;
  std::uint64_t binlog_records_migrated = 0;
  std::uint64_t binlog_records_written = 0;
  std::uint64_t binlog_max_size = 0;
  bool draining = false;
  std::string_view instance_id;  // 16 lowercase hex digits
  std::string_view hostname;
  std::string_view os;
  std::string_view platform;
};

struct JobStats {
  std::uint64_t id = 0;
  std::string_view tube;
  std::string_view state;
  std::uint64_t priority = 0;
  std::uint64_t age = 0;
  std::uint64_t delay = 0;
  std::uint64_t ttr = 0;
  std::uint64_t time_left = 0;
  std::uint64_t file = 0;
  JobCounters counts;
};

std::string render_server_stats(const ServerStats& s);
// Durations in whole seconds, rounded down, as the reference prints them.
std::string render_tube_stats(const TubeSnapshot& t);
std::string render_job_stats(const JobStats& j);
std::string render_name_list(const std::vector<std::string_view>& names);

}  // namespace beanstalkd::protocol
