// put: producers only. Each connection keeps --pipeline puts in flight until --jobs are in (or
// --duration is over); the latency is the put round trip. The jobs are deleted afterwards,
// untimed, so that repeated runs start from the same server state (--keep leaves them).

#include <vector>

#include "put_session.h"
#include "scenario.h"
#include "scenario_support.h"

namespace bench {

Report run_put(ScenarioEnv& env) {
  const Options& options = env.options;
  Connections connections = open_connections(env, options.connections);
  for (std::size_t i = 0; i < connections.size(); ++i) {
    use_tube(*connections[i], env.tube("put", i % options.tubes), env.deadline_ns);
  }

  PutPlan plan;
  plan.depth = options.pipeline;
  plan.body_size = options.body_size;
  plan.paced = options.rate > 0;
  plan.record_ids = !options.keep_jobs;
  std::vector<std::unique_ptr<PutSession>> sessions;
  for (auto& connection : connections) {
    sessions.push_back(std::make_unique<PutSession>(*connection, plan));
  }
  const PhaseResult result = run_phase(session_pointers(sessions), measured_limits(env));
  Report report = make_report(env, result);

  if (!options.keep_jobs) {
    std::vector<std::uint64_t> ids;
    for (const auto& session : sessions) {
      ids.insert(ids.end(), session->ids().begin(), session->ids().end());
    }
    delete_jobs(env, connections, ids);
  }
  return report;
}

}  // namespace bench
