// spray: many tubes, one consumer per tube blocked in `reserve`, and --connections producers
// (default 1) that spread puts over all tubes (`use` before every put). Each producer keeps
// --pipeline jobs in flight, counted until a consumer has received them, so the tubes never fill
// up. It measures how the server copes with many tubes and many waiting consumers: throughput
// counts delivered jobs, the latency runs from put to delivery.

#include <string>
#include <vector>

#include "consumer_session.h"
#include "put_session.h"
#include "scenario.h"
#include "scenario_support.h"

namespace bench {

Report run_spray(ScenarioEnv& env) {
  const Options& options = env.options;
  const std::size_t producers = options.connections;
  std::vector<std::string> tubes;
  for (std::size_t t = 0; t < options.tubes; ++t) tubes.push_back(env.tube("spray", t));

  Connections connections = open_connections(env, producers + tubes.size());
  for (std::size_t t = 0; t < tubes.size(); ++t) {
    watch_only(*connections[producers + t], std::span(&tubes[t], 1), env.deadline_ns);
  }

  PutPlan plan;
  plan.rotate_tubes = tubes;
  plan.depth = options.pipeline;
  plan.body_size = options.body_size;
  plan.paced = options.rate > 0;
  plan.completes_jobs = false;
  plan.window = static_cast<std::int64_t>(options.pipeline * producers);
  std::vector<std::unique_ptr<Session>> sessions;
  for (std::size_t t = 0; t < tubes.size(); ++t) {
    sessions.push_back(std::make_unique<ConsumerSession>(*connections[producers + t]));
  }
  for (std::size_t p = 0; p < producers; ++p) {
    // Producers start at evenly spaced tubes, so they do not all queue on the same consumer.
    sessions.push_back(
        std::make_unique<PutSession>(*connections[p], plan, p * tubes.size() / producers));
  }
  const PhaseResult result = run_phase(session_pointers(sessions), measured_limits(env));
  Report report = make_report(env, result);
  report.add("producers", static_cast<double>(producers));
  report.add("consumers", static_cast<double>(tubes.size()));
  return report;
}

}  // namespace bench
