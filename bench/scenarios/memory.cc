// memory: puts --jobs jobs (default 1,000,000) of --body-size bytes and keeps them ready, reads
// the server's resident memory, deletes them all and reads it again. The throughput and latency
// are those of the fill; the interesting figures are the memory per job and how much of it the
// server gives back.

#include <string>
#include <vector>

#include "bench_error.h"
#include "put_session.h"
#include "scenario.h"
#include "scenario_support.h"

namespace bench {

Report run_memory(ScenarioEnv& env) {
  const Options& options = env.options;
  const std::int64_t rss_before = env.probe.rss_kib();
  const std::int64_t ready_before = env.probe.stat("current-jobs-ready", env.deadline_ns);

  Connections connections = open_connections(env, options.connections);
  for (auto& connection : connections) {
    use_tube(*connection, env.tube("memory", 0), env.deadline_ns);
  }
  PutPlan plan;
  plan.depth = options.pipeline;
  plan.body_size = options.body_size;
  plan.record_ids = true;
  std::vector<std::unique_ptr<PutSession>> sessions;
  for (auto& connection : connections) {
    sessions.push_back(std::make_unique<PutSession>(*connection, plan));
  }
  PhaseLimits limits = measured_limits(env);
  limits.rate = 0;
  const PhaseResult fill = run_phase(session_pointers(sessions), limits);

  const std::int64_t ready = env.probe.stat("current-jobs-ready", env.deadline_ns);
  if (ready - ready_before != fill.completed) {
    throw BenchError("the server holds " + std::to_string(ready - ready_before) +
                     " new ready jobs, expected " + std::to_string(fill.completed));
  }
  const std::int64_t rss_full = env.probe.rss_kib();

  std::vector<std::uint64_t> ids;
  ids.reserve(static_cast<std::size_t>(fill.completed));
  for (const auto& session : sessions) {
    ids.insert(ids.end(), session->ids().begin(), session->ids().end());
  }
  const PhaseResult removal = delete_jobs(env, connections, ids);
  const std::int64_t rss_deleted = env.probe.rss_kib();

  Report report = make_report(env, fill);
  report.add("delete_rate", removal.throughput());
  report.add("rss_before_kib", static_cast<double>(rss_before));
  report.add("rss_full_kib", static_cast<double>(rss_full));
  report.add("rss_deleted_kib", static_cast<double>(rss_deleted));
  if (rss_before >= 0 && rss_full >= 0 && fill.completed > 0) {
    const double per_job =
        static_cast<double>(rss_full - rss_before) * 1024.0 / static_cast<double>(fill.completed);
    report.add("bytes_per_job", per_job);
    report.note = "server RSS " + mebibytes(rss_before) + " -> " + mebibytes(rss_full) + " (" +
                  std::to_string(static_cast<long long>(per_job)) + " B per job), " +
                  mebibytes(rss_deleted) + " after deleting all at " +
                  std::to_string(static_cast<long long>(removal.throughput())) + " jobs/s";
  } else {
    report.note = "server memory unknown (give --server-pid)";
  }
  return report;
}

}  // namespace bench
