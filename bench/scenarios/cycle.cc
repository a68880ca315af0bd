// cycle: every connection loops put, reserve, delete with one command in flight, the way a
// simple client that both produces and consumes works. Throughput counts cycles; the latency is
// one whole cycle (three round trips).

#include <string>
#include <vector>

#include "cycle_session.h"
#include "scenario.h"
#include "scenario_support.h"

namespace bench {

Report run_cycle(ScenarioEnv& env) {
  const Options& options = env.options;
  Connections connections = open_connections(env, options.connections);
  for (std::size_t i = 0; i < connections.size(); ++i) {
    const std::string tube = env.tube("cycle", i % options.tubes);
    use_tube(*connections[i], tube, env.deadline_ns);
    watch_only(*connections[i], std::span(&tube, 1), env.deadline_ns);
  }

  std::vector<std::unique_ptr<CycleSession>> sessions;
  for (auto& connection : connections) {
    sessions.push_back(
        std::make_unique<CycleSession>(*connection, options.body_size, options.rate > 0));
  }
  const PhaseResult result = run_phase(session_pointers(sessions), measured_limits(env));
  Report report = make_report(env, result);
  report.unit = "cycles/s";
  report.pipeline = 1;  // by definition; --pipeline does not apply
  return report;
}

}  // namespace bench
