// The /metrics renderer, from plain snapshots: names, HELP and TYPE lines,
// label escaping, cumulative buckets, counters ending in _total, and every
// line against the exposition grammar.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <string>

#include "beanstalkd/server/metrics_endpoint.h"
#include "beanstalkd/server/metrics_text.h"
#include "exposition_check.h"

namespace beanstalkd::server {
namespace {

using metrics_test::check_exposition;
using metrics_test::Sample;

MetricsSnapshot sample_snapshot() {
  MetricsSnapshot m;
  m.server.version = "1.2.3";
  m.server.jobs_urgent = 1;
  m.server.jobs_ready = 2;
  m.server.jobs_reserved = 3;
  m.server.jobs_delayed = 4;
  m.server.jobs_buried = 5;
  m.server.commands[static_cast<std::size_t>(protocol::Op::Put)] = 7;
  m.server.commands[static_cast<std::size_t>(protocol::Op::ReserveWithTimeout)] = 2;
  m.server.total_jobs = 7;
  m.server.current_connections = 3;
  m.server.total_connections = 9;
  m.server.rusage_utime_us = 1500000;
  m.server.uptime_seconds = 42;
  m.server.max_job_size = 65535;
  m.server.current_tubes = 2;
  m.accept_failures = 11;
  m.accept_paused = true;
  m.replies_awaiting_log = 6;
  TubeSnapshot t;
  t.name = "default";
  t.jobs_ready = 2;
  t.total_jobs = 5;
  m.tubes.push_back(t);
  t = TubeSnapshot{};
  t.name = "emails";
  t.jobs_buried = 5;
  t.paused = true;
  t.pause_duration = 30 * kNanosPerSecond;
  t.pause_left = 12'500'000'000;
  m.tubes.push_back(t);
  return m;
}

bool contains_line(const std::string& text, const std::string& line) {
  return text.starts_with(line + "\n") || text.find("\n" + line + "\n") != std::string::npos;
}

std::string joined(const std::vector<std::string>& errors) {
  std::string all;
  for (const auto& e : errors) all += e + "\n";
  return all;
}

TEST(MetricsText, PassesTheExpositionGrammar) {
  for (bool with_wal : {false, true}) {
    MetricsSnapshot m = sample_snapshot();
    if (with_wal) m.wal.emplace();
    const std::string text = render_metrics(m);
    EXPECT_EQ(joined(check_exposition(text)), "") << text;
  }
}

TEST(MetricsText, EveryFamilyHasHelpAndTypeAndFollowsTheNamingRules) {
  MetricsSnapshot m = sample_snapshot();
  m.wal.emplace();
  const std::string text = render_metrics(m);
  std::set<std::string> helped;
  std::size_t families = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with("# HELP ")) {
      helped.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (!line.starts_with("# TYPE ")) continue;
    ++families;
    const std::string name = line.substr(7, line.find(' ', 7) - 7);
    const std::string type = line.substr(line.rfind(' ') + 1);
    EXPECT_TRUE(helped.count(name)) << name;
    EXPECT_TRUE(name.starts_with("beanstalkd_")) << name;
    for (char c : name) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << name;
    }
    if (type == "counter") {
      EXPECT_TRUE(name.ends_with("_total")) << name;
    } else {
      EXPECT_FALSE(name.ends_with("_total")) << name;
      EXPECT_FALSE(name.ends_with("_count") || name.ends_with("_sum") || name.ends_with("_bucket"))
          << name;
    }
    if (type == "histogram") {
      EXPECT_TRUE(name.ends_with("_seconds")) << name;
    }
    // Times are in seconds, sizes in bytes.
    EXPECT_EQ(name.find("millis"), std::string::npos) << name;
    EXPECT_EQ(name.find("_ms"), std::string::npos) << name;
  }
  EXPECT_GT(families, 40u);
}

TEST(MetricsText, ServerWideFigures) {
  const std::string text = render_metrics(sample_snapshot());
  for (const char* line : {
           "beanstalkd_build_info{version=\"1.2.3\"} 1",
           "beanstalkd_uptime_seconds 42",
           "beanstalkd_draining 0",
           "beanstalkd_ready 1",
           "beanstalkd_jobs{state=\"ready\"} 2",
           "beanstalkd_jobs{state=\"reserved\"} 3",
           "beanstalkd_jobs{state=\"delayed\"} 4",
           "beanstalkd_jobs{state=\"buried\"} 5",
           "beanstalkd_jobs_urgent 1",
           "beanstalkd_jobs_created_total 7",
           "beanstalkd_connections 3",
           "beanstalkd_connections_accepted_total 9",
           "beanstalkd_accept_failures_total 11",
           "beanstalkd_accept_paused 1",
           "beanstalkd_replies_awaiting_log 6",
           "beanstalkd_cpu_seconds_total{mode=\"user\"} 1.5",
           "beanstalkd_max_job_size_bytes 65535",
           "beanstalkd_tubes 2",
           "# TYPE beanstalkd_jobs_created_total counter",
           "# TYPE beanstalkd_jobs gauge",
           "beanstalkd_wal_enabled 0",
       }) {
    EXPECT_TRUE(contains_line(text, line)) << line;
  }
  EXPECT_EQ(text.find("beanstalkd_wal_healthy"), std::string::npos);
}

TEST(MetricsText, EveryCommandHasACounterAndAHistogram) {
  const std::string text = render_metrics(sample_snapshot());
  EXPECT_TRUE(contains_line(text, "beanstalkd_commands_total{command=\"put\"} 7"));
  EXPECT_TRUE(contains_line(text, "beanstalkd_commands_total{command=\"reserve-with-timeout\"} 2"));
  for (std::size_t i = 0; i < protocol::kOpCount; ++i) {
    const std::string name(protocol::op_name(static_cast<protocol::Op>(i)));
    EXPECT_NE(text.find("beanstalkd_commands_total{command=\"" + name + "\"} "), std::string::npos)
        << name;
    EXPECT_NE(text.find("beanstalkd_command_duration_seconds_bucket{command=\"" + name +
                        "\",le=\"+Inf\"} "),
              std::string::npos)
        << name;
    EXPECT_NE(text.find("beanstalkd_command_duration_seconds_count{command=\"" + name + "\"} "),
              std::string::npos)
        << name;
  }
}

TEST(MetricsText, CommandLatencyBucketsAreCumulative) {
  MetricsSnapshot m = sample_snapshot();
  LatencyHistogram& h = m.latencies[static_cast<std::size_t>(protocol::Op::Put)];
  h.record(500);   // 0.5 us: first bucket (le 1e-06)
  h.record(2000);  // 2 us: le 2.5e-06
  h.record(2000);
  h.record(7000);        // 7 us: le 1e-05
  h.record(5000000000);  // 5 s: +Inf
  const std::string text = render_metrics(m);
  const std::string p = "beanstalkd_command_duration_seconds_bucket{command=\"put\",le=\"";
  EXPECT_TRUE(contains_line(text, p + "1e-06\"} 1"));
  EXPECT_TRUE(contains_line(text, p + "2.5e-06\"} 3"));
  EXPECT_TRUE(contains_line(text, p + "5e-06\"} 3"));
  EXPECT_TRUE(contains_line(text, p + "1e-05\"} 4"));
  EXPECT_TRUE(contains_line(text, p + "0.1\"} 4"));
  EXPECT_TRUE(contains_line(text, p + "+Inf\"} 5"));
  EXPECT_TRUE(contains_line(text, "beanstalkd_command_duration_seconds_count{command=\"put\"} 5"));
  std::vector<Sample> samples;
  ASSERT_EQ(joined(check_exposition(text, &samples)), "");
  bool found_sum = false;
  for (const Sample& s : samples) {
    if (s.name == "beanstalkd_command_duration_seconds_sum" && s.labels.size() == 1 &&
        s.labels[0].second == "put") {
      found_sum = true;
      EXPECT_NEAR(s.value, 5.0000115, 1e-9);
    }
  }
  EXPECT_TRUE(found_sum);
  // A command never run has zero buckets throughout.
  EXPECT_TRUE(contains_line(
      text, "beanstalkd_command_duration_seconds_bucket{command=\"kick\",le=\"+Inf\"} 0"));
  EXPECT_TRUE(contains_line(text, "beanstalkd_command_duration_seconds_sum{command=\"kick\"} 0"));
}

TEST(MetricsText, LogFiguresAndSyncHistogram) {
  MetricsSnapshot m = sample_snapshot();
  WalMetrics& l = m.wal.emplace();
  l.healthy = false;
  l.full = true;
  l.stats.bytes_written = 4096;
  l.stats.records_written = 10;
  l.stats.records_migrated = 2;
  l.stats.syncs = 6;
  l.stats.sync_failures = 1;
  l.stats.body_read_failures = 4;
  l.stats.sync_latency_buckets[0] = 3;                               // le 0.0001
  l.stats.sync_latency_buckets[2] = 2;                               // le 0.001
  l.stats.sync_latency_buckets[wal::kSyncLatencyBounds.size()] = 1;  // +Inf
  l.stats.sync_seconds_total = 2.25;
  l.disk_bytes = 8192;
  const std::string text = render_metrics(m);
  for (const char* line : {
           "beanstalkd_wal_enabled 1",
           "beanstalkd_wal_healthy 0",
           "beanstalkd_wal_full 1",
           "beanstalkd_wal_bytes_written_total 4096",
           "beanstalkd_wal_records_written_total 10",
           "beanstalkd_wal_records_migrated_total 2",
           "beanstalkd_wal_syncs_total 6",
           "beanstalkd_wal_sync_failures_total 1",
           "beanstalkd_wal_body_read_failures_total 4",
           "beanstalkd_wal_disk_bytes 8192",
           "beanstalkd_wal_sync_duration_seconds_bucket{le=\"0.0001\"} 3",
           "beanstalkd_wal_sync_duration_seconds_bucket{le=\"0.0005\"} 3",
           "beanstalkd_wal_sync_duration_seconds_bucket{le=\"0.001\"} 5",
           "beanstalkd_wal_sync_duration_seconds_bucket{le=\"1\"} 5",
           "beanstalkd_wal_sync_duration_seconds_bucket{le=\"+Inf\"} 6",
           "beanstalkd_wal_sync_duration_seconds_sum 2.25",
           "beanstalkd_wal_sync_duration_seconds_count 6",
           "# TYPE beanstalkd_wal_sync_duration_seconds histogram",
       }) {
    EXPECT_TRUE(contains_line(text, line)) << line;
  }
  EXPECT_EQ(joined(check_exposition(text)), "");
}

TEST(MetricsText, PerTubeFiguresAreLabelledAndGroupedByFamily) {
  const std::string text = render_metrics(sample_snapshot());
  for (const char* line : {
           "beanstalkd_tube_jobs{tube=\"default\",state=\"ready\"} 2",
           "beanstalkd_tube_jobs{tube=\"emails\",state=\"buried\"} 5",
           "beanstalkd_tube_jobs_created_total{tube=\"default\"} 5",
           "beanstalkd_tube_paused{tube=\"default\"} 0",
           "beanstalkd_tube_paused{tube=\"emails\"} 1",
           "beanstalkd_tube_pause_duration_seconds{tube=\"emails\"} 30",
           "beanstalkd_tube_pause_remaining_seconds{tube=\"emails\"} 12.5",
           "beanstalkd_tube_pause_remaining_seconds{tube=\"default\"} 0",
       }) {
    EXPECT_TRUE(contains_line(text, line)) << line;
  }
  // The grammar check fails a family whose samples are interleaved.
  EXPECT_EQ(joined(check_exposition(text)), "");
}

TEST(MetricsText, LabelValuesAreEscaped) {
  MetricsSnapshot m;
  m.server.version = "v\"1\\x\ny";
  TubeSnapshot t;
  const std::string name = "a\"b\\c\nd";
  t.name = name;
  m.tubes.push_back(t);
  const std::string text = render_metrics(m);
  EXPECT_TRUE(contains_line(text, "beanstalkd_build_info{version=\"v\\\"1\\\\x\\ny\"} 1")) << text;
  EXPECT_TRUE(contains_line(text, "beanstalkd_tube_paused{tube=\"a\\\"b\\\\c\\nd\"} 0"));
  std::vector<Sample> samples;
  ASSERT_EQ(joined(check_exposition(text, &samples)), "");
  bool round_trip = false;
  for (const Sample& s : samples)
    if (s.name == "beanstalkd_tube_paused") round_trip = s.labels.at(0).second == name;
  EXPECT_TRUE(round_trip);
}

TEST(MetricsText, Numbers) {
  auto num = [](double v) {
    std::string s;
    append_number(s, v);
    return s;
  };
  EXPECT_EQ(num(0), "0");
  EXPECT_EQ(num(3), "3");
  EXPECT_EQ(num(0.5), "0.5");
  EXPECT_EQ(num(1e-06), "1e-06");
  EXPECT_EQ(num(2.5e-06), "2.5e-06");
  EXPECT_EQ(num(1e300 * 1e300), "+Inf");
  EXPECT_EQ(num(-1e300 * 1e300), "-Inf");
  EXPECT_EQ(num(std::nan("")), "NaN");
  EXPECT_EQ(num(0.0001), "0.0001");
  EXPECT_EQ(num(0.00025), "0.00025");
  EXPECT_EQ(num(1500000.0), "1500000");
  EXPECT_EQ(num(-2.75), "-2.75");
  EXPECT_EQ(num(18446744073709551615.0), "18446744073709551616");
  EXPECT_EQ(num(1e21), "1e+21");
  EXPECT_EQ(num(1.5e-300), "1.5e-300");
}

TEST(MetricsText, ThousandTubesRenderQuicklyAndLinearly) {
  std::vector<std::string> names;
  for (int i = 0; i < 1000; ++i) names.push_back("tube-" + std::to_string(i));
  auto render_with = [&](std::size_t n, std::string& out) {
    MetricsSnapshot m = sample_snapshot();
    m.tubes.clear();
    for (std::size_t i = 0; i < n; ++i) {
      TubeSnapshot t;
      t.name = names[i];
      t.jobs_ready = i;
      m.tubes.push_back(t);
    }
    out.clear();
    const auto start = std::chrono::steady_clock::now();
    render_metrics(m, out);
    return std::chrono::steady_clock::now() - start;
  };
  std::string small, large;
  render_with(10, small);
  const auto took = render_with(1000, large);
  EXPECT_EQ(joined(check_exposition(large)), "");
  // 14 series per tube.
  std::size_t tube_lines = 0;
  for (std::size_t p = large.find("{tube=\""); p != std::string::npos;
       p = large.find("{tube=\"", p + 1))
    ++tube_lines;
  EXPECT_EQ(tube_lines, 14u * 1000u);
  const double per_tube_small = static_cast<double>(small.size()) / 10;
  const double per_tube_large = static_cast<double>(large.size()) / 1000;
  EXPECT_LT(per_tube_large, per_tube_small * 1.2);
  std::printf("1000 tubes: %zu bytes rendered in %.3f ms\n", large.size(),
              std::chrono::duration<double, std::milli>(took).count());
}

TEST(MetricsAddress, SplitHostPort) {
  std::string host, error;
  std::uint16_t port = 0;
  EXPECT_TRUE(split_host_port("127.0.0.1:9464", host, port, error));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9464);
  EXPECT_TRUE(split_host_port("[::1]:9100", host, port, error));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9100);
  EXPECT_TRUE(split_host_port("localhost:0", host, port, error));
  EXPECT_EQ(host, "localhost");
  EXPECT_EQ(port, 0);
  for (const char* bad :
       {"", "9464", "127.0.0.1", "127.0.0.1:", ":9464", "::1:9464", "[::1]9464", "[::1]",
        "[::1:9464", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:94x", "[]:80"}) {
    error.clear();
    EXPECT_FALSE(split_host_port(bad, host, port, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

}  // namespace
}  // namespace beanstalkd::server
