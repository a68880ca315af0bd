// connections: opens --connections idle connections (default 10,000) one after another, every
// --watch-every'th of them watching a tube (spread over --tubes), holds them for --hold seconds
// and reads the server's resident memory before and after. Throughput counts connections
// opened per second; the latency is the connect() time.

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "bench_error.h"
#include "clock.h"
#include "scenario.h"
#include "scenario_support.h"

namespace bench {
namespace {

// Reads the WATCHING replies in batches, so that no more than this many are outstanding while
// thousands of connections are being opened.
constexpr std::size_t kBatch = 256;

void collect_watch_replies(Connections& connections, std::vector<std::size_t>& waiting,
                           std::int64_t deadline_ns) {
  for (const std::size_t index : waiting) {
    const Reply reply = connections[index]->wait_reply(deadline_ns);
    if (reply.kind != ReplyKind::watching) {
      throw BenchError("watch got unexpected reply '" + std::string(reply.line) + "'");
    }
  }
  waiting.clear();
}

}  // namespace

Report run_connections(ScenarioEnv& env) {
  const Options& options = env.options;
  const std::size_t count = options.connections;
  if (count + 32 > env.fd_limit) {
    throw BenchError(std::to_string(count) + " connections need more open files than the limit " +
                     "of " + std::to_string(env.fd_limit) + " (raise it with ulimit -n)");
  }
  const std::int64_t baseline = env.probe.stat("current-connections", env.deadline_ns);
  const std::int64_t rss_before = env.probe.rss_kib();

  Connections connections;
  connections.reserve(count);
  Histogram connect_latency;
  std::vector<std::size_t> waiting;
  std::size_t watchers = 0;
  const std::int64_t start = now_ns();
  for (std::size_t i = 0; i < count; ++i) {
    const std::int64_t before = now_ns();
    connections.push_back(std::make_unique<Connection>(env.endpoint.connect(env.deadline_ns)));
    connect_latency.record(now_ns() - before);
    if (options.watch_every > 0 && i % options.watch_every == 0) {
      Connection& connection = *connections.back();
      connection.append("watch " + env.tube("idle", watchers % options.tubes) + "\r\n");
      connection.flush_until(env.deadline_ns);
      waiting.push_back(i);
      ++watchers;
      if (waiting.size() == kBatch) collect_watch_replies(connections, waiting, env.deadline_ns);
    }
  }
  collect_watch_replies(connections, waiting, env.deadline_ns);
  const std::int64_t opened = now_ns();
  // The server may not have accepted the last connections yet; memory is read when it has.
  env.probe.wait_for_connections(baseline + static_cast<std::int64_t>(count), env.deadline_ns);
  std::this_thread::sleep_for(std::chrono::duration<double>(options.hold_s));
  const std::int64_t rss_held = env.probe.rss_kib();

  connections.clear();
  PhaseResult result;
  result.completed = static_cast<std::int64_t>(count);
  result.seconds = ns_to_seconds(opened - start);
  result.latency = connect_latency;
  Report report = make_report(env, result);
  report.unit = "connections/s";
  report.pipeline = 0;
  report.body_size = 0;
  report.add("watchers", static_cast<double>(watchers));
  report.add("rss_before_kib", static_cast<double>(rss_before));
  report.add("rss_held_kib", static_cast<double>(rss_held));
  if (rss_before >= 0 && rss_held >= 0) {
    const double per_connection =
        static_cast<double>(rss_held - rss_before) * 1024.0 / static_cast<double>(count);
    report.add("bytes_per_connection", per_connection);
    report.note = "server RSS " + mebibytes(rss_before) + " -> " + mebibytes(rss_held) + " = " +
                  std::to_string(static_cast<long long>(per_connection)) + " B per connection";
  } else {
    report.note = "server memory unknown (give --server-pid)";
  }
  return report;
}

}  // namespace bench
