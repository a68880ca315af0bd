// The /metrics body: the server's figures in the Prometheus text exposition
// format 0.0.4. A pure function of a plain snapshot, so the layout is
// testable without a server; MetricsEndpoint fills the snapshot from a live
// server (collect_metrics in metrics_endpoint.h).
//
// Naming: every metric starts with beanstalkd_; counters end in _total;
// times are in seconds and sizes in bytes, named so; a family whose series
// partition a whole (jobs by state) uses a label, never one name per value.
// Rendering is O(tubes + commands): one pass per family, appended to one
// string.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "beanstalkd/protocol/stats_yaml.h"
#include "beanstalkd/server/latency_histogram.h"
#include "beanstalkd/wal/wal.h"

namespace beanstalkd::server {

struct WalMetrics {
  wal::WalStats stats;  // sync_latency_buckets: a count per bucket, not cumulative
  bool healthy = true;
  bool full = false;  // no room on the disk for the next file (Wal::full)
  std::uint64_t oldest_file_index = 0;
  std::uint64_t current_file_index = 0;
  std::uint64_t max_file_size = 0;
  std::uint64_t disk_bytes = 0;
  std::uint64_t live_bytes = 0;
};

struct MetricsSnapshot {
  // Server-wide figures as `stats` reports them (commands, jobs by state,
  // connections, rusage, uptime, draining, version).
  protocol::ServerStats server;
  // Per-command latency; buckets are counts per bucket, not cumulative.
  CommandLatencies latencies{};
  std::vector<TubeSnapshot> tubes;
  std::optional<WalMetrics> wal;  // present when the server runs with -b
  bool ready = true;
  // Accepting, out of file descriptors or memory: failed accepts so far,
  // and whether accepting is paused now.
  std::uint64_t accept_failures = 0;
  bool accept_paused = false;
  // Connections whose replies wait for the log to be durable (-f 0).
  std::uint64_t replies_awaiting_log = 0;
};

// The exposition's Content-Type.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Appends the exposition to `out` (which keeps its capacity across scrapes
// if the caller reuses it).
void render_metrics(const MetricsSnapshot& snapshot, std::string& out);
std::string render_metrics(const MetricsSnapshot& snapshot);

// Escapes a label value: backslash, double quote and newline.
void append_label_value(std::string& out, std::string_view value);
// A sample value: integers exactly, other values in the shortest form that
// reads back the same, +Inf/-Inf/NaN as the format spells them.
void append_number(std::string& out, double value);

}  // namespace beanstalkd::server
