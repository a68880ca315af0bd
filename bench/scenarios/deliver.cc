// deliver: --connections consumers block in `reserve`; one producer puts at a fixed --rate
// (default 10,000 jobs/s), stamping the send time into each body. The latency is from the put
// leaving the producer to the job arriving at a consumer: the time a job takes through the
// server when the server is not saturated.

#include <string>
#include <vector>

#include "bench_error.h"
#include "consumer_session.h"
#include "put_session.h"
#include "scenario.h"
#include "scenario_support.h"

namespace bench {

Report run_deliver(ScenarioEnv& env) {
  const Options& options = env.options;
  if (options.tubes > options.connections) {
    throw BenchError("deliver needs at least one consumer per tube (--tubes <= --connections)");
  }
  std::vector<std::string> tubes;
  for (std::size_t t = 0; t < options.tubes; ++t) tubes.push_back(env.tube("deliver", t));

  Connections connections = open_connections(env, options.connections + 1);
  Connection& producer = *connections.front();
  PutPlan plan;
  plan.depth = options.pipeline;
  plan.body_size = options.body_size;
  plan.paced = true;
  plan.completes_jobs = false;
  if (tubes.size() == 1) {
    use_tube(producer, tubes.front(), env.deadline_ns);
  } else {
    plan.rotate_tubes = tubes;
  }
  for (std::size_t i = 1; i < connections.size(); ++i) {
    watch_only(*connections[i], std::span(&tubes[(i - 1) % tubes.size()], 1), env.deadline_ns);
  }

  // The consumers start first and are waiting in reserve before the first job is put.
  std::vector<std::unique_ptr<Session>> sessions;
  for (std::size_t i = 1; i < connections.size(); ++i) {
    sessions.push_back(std::make_unique<ConsumerSession>(*connections[i]));
  }
  sessions.push_back(std::make_unique<PutSession>(producer, plan));
  const PhaseResult result = run_phase(session_pointers(sessions), measured_limits(env));
  Report report = make_report(env, result);
  report.add("producers", 1);
  return report;
}

}  // namespace bench
