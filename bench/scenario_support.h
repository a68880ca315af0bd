#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "connection.h"
#include "phase.h"
#include "report.h"
#include "scenario.h"
#include "session.h"

namespace bench {

// Building blocks shared by the scenarios: opening and setting up connections, the limits of a
// phase, the common part of the report, and cleaning up after a run.

using Connections = std::vector<std::unique_ptr<Connection>>;

// Opens `count` connections, after checking that the open-file limit allows them.
Connections open_connections(const ScenarioEnv& env, std::size_t count);

// Set-up exchanges, pipelined per connection: `use`, and `watch` + `ignore default`.
void use_tube(Connection& connection, std::string_view tube, std::int64_t deadline_ns);
void watch_only(Connection& connection, std::span<const std::string> tubes,
                std::int64_t deadline_ns);

// Limits of a measured phase: --jobs or --duration, --rate, --threads, the hard deadline.
PhaseLimits measured_limits(const ScenarioEnv& env);
// Limits of set-up and clean-up phases: as fast as possible, bounded only by the deadline.
PhaseLimits unmeasured_limits(const ScenarioEnv& env, std::int64_t job_limit);

// The report's settings and the phase's throughput and latency.
Report make_report(const ScenarioEnv& env, const PhaseResult& result);

// Deletes jobs by id over the given connections (untimed); returns the phase for its rate.
PhaseResult delete_jobs(const ScenarioEnv& env, Connections& connections,
                        std::span<const std::uint64_t> ids);

// Plain pointers for run_phase, which does not own the sessions.
template <typename SessionType>
std::vector<Session*> session_pointers(const std::vector<std::unique_ptr<SessionType>>& owned) {
  std::vector<Session*> out;
  out.reserve(owned.size());
  for (const auto& session : owned) out.push_back(session.get());
  return out;
}

// "12.3 MiB" for a KiB count from /proc, or "?" when unknown.
std::string mebibytes(std::int64_t kib);

}  // namespace bench
