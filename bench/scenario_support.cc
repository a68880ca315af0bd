#include "scenario_support.h"

#include <algorithm>
#include <cstdio>

#include "bench_error.h"
#include "clock.h"
#include "delete_session.h"

namespace bench {
namespace {

// Descriptors the process needs besides the load connections (stdio, the probe, epoll, ...).
constexpr std::size_t kSpareFds = 32;
// Deletes in flight per connection when cleaning up: deep enough to be quick on any server.
constexpr std::size_t kCleanupDepth = 256;

}  // namespace

Connections open_connections(const ScenarioEnv& env, std::size_t count) {
  if (count + kSpareFds > env.fd_limit) {
    throw BenchError(std::to_string(count) +
                     " connections need more open files than the limit of " +
                     std::to_string(env.fd_limit) + " (raise it with ulimit -n)");
  }
  Connections connections;
  connections.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    connections.push_back(std::make_unique<Connection>(env.endpoint.connect(env.deadline_ns)));
  }
  return connections;
}

void use_tube(Connection& connection, std::string_view tube, std::int64_t deadline_ns) {
  connection.request("use " + std::string(tube), ReplyKind::using_tube, deadline_ns);
}

void watch_only(Connection& connection, std::span<const std::string> tubes,
                std::int64_t deadline_ns) {
  for (const std::string& tube : tubes) connection.append("watch " + tube + "\r\n");
  connection.append("ignore default\r\n");
  for (std::size_t i = 0; i <= tubes.size(); ++i) {
    const Reply reply = connection.wait_reply(deadline_ns);
    if (reply.kind != ReplyKind::watching) {
      throw BenchError("watch/ignore got unexpected reply '" + std::string(reply.line) + "'");
    }
  }
}

PhaseLimits measured_limits(const ScenarioEnv& env) {
  const Options& options = env.options;
  PhaseLimits limits;
  if (options.duration_s > 0) {
    limits.stop_issuing_ns = now_ns() + seconds_to_ns(options.duration_s);
  } else {
    limits.job_limit = options.jobs;
  }
  limits.hard_deadline_ns = env.deadline_ns;
  limits.rate = options.rate;
  limits.threads = options.threads;
  return limits;
}

PhaseLimits unmeasured_limits(const ScenarioEnv& env, std::int64_t job_limit) {
  PhaseLimits limits;
  limits.job_limit = job_limit;
  limits.hard_deadline_ns = env.deadline_ns;
  limits.threads = env.options.threads;
  return limits;
}

Report make_report(const ScenarioEnv& env, const PhaseResult& result) {
  const Options& options = env.options;
  Report report;
  report.scenario = options.scenario;
  report.label = options.label;
  report.server = env.endpoint.text();
  report.connections = options.connections;
  report.pipeline = options.pipeline;
  report.body_size = options.body_size;
  report.tubes = options.tubes;
  report.threads = options.threads;
  report.target_rate = options.rate;
  report.count = result.completed;
  report.seconds = result.seconds;
  report.throughput = result.throughput();
  report.latency = result.latency;
  return report;
}

PhaseResult delete_jobs(const ScenarioEnv& env, Connections& connections,
                        std::span<const std::uint64_t> ids) {
  const std::size_t count = std::min(connections.size(), std::max<std::size_t>(ids.size(), 1));
  std::vector<std::unique_ptr<DeleteSession>> sessions;
  for (std::size_t i = 0; i < count; ++i) {
    // Contiguous slices, so that each connection deletes neighbouring ids.
    const std::size_t begin = ids.size() * i / count;
    const std::size_t end = ids.size() * (i + 1) / count;
    sessions.push_back(std::make_unique<DeleteSession>(
        *connections[i], ids.subspan(begin, end - begin), kCleanupDepth));
  }
  return run_phase(session_pointers(sessions),
                   unmeasured_limits(env, static_cast<std::int64_t>(ids.size())));
}

std::string mebibytes(std::int64_t kib) {
  if (kib < 0) return "?";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(kib) / 1024.0);
  return text;
}

}  // namespace bench
