// drain: consumers only. The tubes are first filled with --jobs jobs, pipelined and untimed;
// then every connection keeps --pipeline `reserve-with-timeout 0` in flight and deletes each job
// it gets, until the tubes are empty (or --duration is over). Throughput counts deleted jobs;
// the latency is the reserve round trip.

#include <algorithm>
#include <string>
#include <vector>

#include "bench_error.h"
#include "drain_session.h"
#include "put_session.h"
#include "scenario.h"
#include "scenario_support.h"

namespace bench {
namespace {

// The pre-fill is not measured, so it runs as deep as any server takes comfortably.
constexpr std::size_t kPrefillDepth = 256;

PhaseResult drain(Connections& connections, std::size_t depth, const PhaseLimits& limits) {
  std::vector<std::unique_ptr<DrainSession>> sessions;
  for (auto& connection : connections) {
    sessions.push_back(std::make_unique<DrainSession>(*connection, depth));
  }
  return run_phase(session_pointers(sessions), limits);
}

}  // namespace

Report run_drain(ScenarioEnv& env) {
  const Options& options = env.options;
  if (options.tubes > options.connections) {
    throw BenchError("drain needs at least one connection per tube (--tubes <= --connections)");
  }
  Connections connections = open_connections(env, options.connections);
  // Connection i fills and later drains tube i % tubes. Each tube gets jobs in proportion to the
  // connections on it, and is drained by as many, so the tubes empty at about the same time.
  std::vector<std::string> tube_of;
  for (std::size_t i = 0; i < connections.size(); ++i) {
    tube_of.push_back(env.tube("drain", i % options.tubes));
    use_tube(*connections[i], tube_of.back(), env.deadline_ns);
  }

  PutPlan fill;
  fill.depth = std::max(options.pipeline, kPrefillDepth);
  fill.body_size = options.body_size;
  std::vector<std::unique_ptr<PutSession>> fillers;
  for (auto& connection : connections) {
    fillers.push_back(std::make_unique<PutSession>(*connection, fill));
  }
  const PhaseResult filled =
      run_phase(session_pointers(fillers), unmeasured_limits(env, options.jobs));

  for (std::size_t i = 0; i < connections.size(); ++i) {
    watch_only(*connections[i], std::span(&tube_of[i], 1), env.deadline_ns);
  }
  PhaseLimits limits = measured_limits(env);
  limits.rate = 0;  // a drain is never paced
  const PhaseResult result = drain(connections, options.pipeline, limits);
  Report report = make_report(env, result);
  report.add("prefill_rate", filled.throughput());
  report.note = "pre-filled " + std::to_string(filled.completed) + " jobs at " +
                std::to_string(static_cast<long long>(filled.throughput())) + " jobs/s";

  // After a --duration run jobs may be left; empty the tubes so the next run starts clean.
  if (options.duration_s > 0 && !options.keep_jobs) {
    drain(connections, kPrefillDepth, unmeasured_limits(env, RunState::kNoLimit));
  }
  return report;
}

}  // namespace bench
