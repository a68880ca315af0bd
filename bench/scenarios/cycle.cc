// cycle: every connection loops put, reserve, delete with one command in flight, the way a
// simple client that both produces and consumes works. Throughput counts cycles; the latency is
// one whole cycle (three round trips). With --stream-body, one more client streams large bodies
// meanwhile, to show whether it stalls the others.

#include <string>
#include <vector>

#include "body_stream.h"
#include "clock.h"
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
  std::unique_ptr<BodyStream> stream;
  if (options.stream_body > 0) {
    stream = std::make_unique<BodyStream>(env.endpoint, env.tube("stream", 0), options.stream_body,
                                          env.deadline_ns);
    stream->start();
  }
  const PhaseResult result = run_phase(session_pointers(sessions), measured_limits(env));
  if (stream) stream->stop();
  Report report = make_report(env, result);
  report.unit = "cycles/s";
  report.pipeline = 1;  // by definition; --pipeline does not apply
  if (stream) {
    const double mib_per_s = stream->seconds() > 0 ? static_cast<double>(stream->bytes()) /
                                                         (1024.0 * 1024.0) / stream->seconds()
                                                   : 0;
    report.add("stream_body", static_cast<double>(options.stream_body));
    report.add("stream_cycles", static_cast<double>(stream->jobs()));
    report.add("stream_mib_per_s", mib_per_s);
    report.note = "meanwhile one client moved " + std::to_string(stream->jobs()) + " bodies of " +
                  std::to_string(options.stream_body) + " bytes in and out (" +
                  std::to_string(static_cast<std::int64_t>(mib_per_s)) + " MiB/s)";
  }
  return report;
}

}  // namespace bench
