// The YAML bodies of stats, stats-tube, stats-job and the tube lists: key
// order as in /work/shared/reference/compat-notes.md ("Stats YAML"), string
// values double-quoted as beanstalkd 1.13 does.
#include "beanstalkd/protocol/stats_yaml.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "beanstalkd/protocol/command.h"
#include "reference_stats_keys.h"

namespace beanstalkd::protocol {
namespace {

using beanstalkd::testing::kJobKeys;
using beanstalkd::testing::kServerKeys;
using beanstalkd::testing::kTubeKeys;

// Splits "---\nk: v\n..." into its lines after the header, checking the
// framing on the way.
std::vector<std::string> body_lines(const std::string& yaml) {
  EXPECT_EQ(yaml.substr(0, 4), "---\n");
  EXPECT_FALSE(yaml.empty());
  if (!yaml.empty()) {
    EXPECT_EQ(yaml.back(), '\n');
  }
  std::vector<std::string> lines;
  std::size_t pos = 4;
  while (pos < yaml.size()) {
    std::size_t nl = yaml.find('\n', pos);
    if (nl == std::string::npos) {
      ADD_FAILURE() << "unterminated line";
      break;
    }
    lines.push_back(yaml.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

std::vector<std::string> keys_of(const std::string& yaml) {
  std::vector<std::string> keys;
  for (const std::string& line : body_lines(yaml)) {
    std::size_t colon = line.find(": ");
    EXPECT_NE(colon, std::string::npos) << line;
    keys.push_back(line.substr(0, colon));
  }
  return keys;
}

std::map<std::string, std::string> values_of(const std::string& yaml) {
  std::map<std::string, std::string> values;
  for (const std::string& line : body_lines(yaml)) {
    std::size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    values[line.substr(0, colon)] = line.substr(colon + 2);
  }
  return values;
}

ServerStats sample_server_stats() {
  ServerStats s;
  s.jobs_urgent = 1;
  s.jobs_ready = 2;
  s.jobs_reserved = 3;
  s.jobs_delayed = 4;
  s.jobs_buried = 5;
  for (std::size_t i = 0; i < kOpCount; ++i) s.commands[i] = 100 + i;
  s.job_timeouts = 6;
  s.total_jobs = 7;
  s.max_job_size = 65535;
  s.current_tubes = 8;
  s.current_connections = 9;
  s.current_producers = 10;
  s.current_workers = 11;
  s.current_waiting = 12;
  s.total_connections = 13;
  s.pid = 4242;
  s.version = "1.13";
  s.rusage_utime_us = 1'234'567;
  s.rusage_stime_us = 5;
  s.uptime_seconds = 14;
  s.binlog_oldest_index = 15;
  s.binlog_current_index = 16;
  s.binlog_records_migrated = 17;
  s.binlog_records_written = 18;
  s.binlog_max_size = 10485760;
  s.draining = false;
  s.instance_id = "0123456789abcdef";
  s.hostname = "host.example";
  s.os = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0";
  s.platform = "x86_64";
  return s;
}

std::uint64_t cmd(Op op) {
  return 100 + static_cast<std::uint64_t>(op);
}

// ---------------------------------------------------------------------------
// stats

TEST(StatsYaml, ServerStatsStartWithTheYamlHeader) {
  std::string y = render_server_stats(sample_server_stats());
  EXPECT_EQ(y.rfind("---\n", 0), 0u);
}

TEST(StatsYaml, ServerStatsKeysAreInTheReferenceOrder) {
  EXPECT_EQ(keys_of(render_server_stats(sample_server_stats())), kServerKeys);
}

TEST(StatsYaml, ServerStatsKeysAreInTheReferenceOrderForDefaults) {
  EXPECT_EQ(keys_of(render_server_stats(ServerStats{})), kServerKeys);
}

TEST(StatsYaml, ServerStatsNumbersGoUnderTheirKeys) {
  auto v = values_of(render_server_stats(sample_server_stats()));
  EXPECT_EQ(v["current-jobs-urgent"], "1");
  EXPECT_EQ(v["current-jobs-ready"], "2");
  EXPECT_EQ(v["current-jobs-reserved"], "3");
  EXPECT_EQ(v["current-jobs-delayed"], "4");
  EXPECT_EQ(v["current-jobs-buried"], "5");
  EXPECT_EQ(v["job-timeouts"], "6");
  EXPECT_EQ(v["total-jobs"], "7");
  EXPECT_EQ(v["max-job-size"], "65535");
  EXPECT_EQ(v["current-tubes"], "8");
  EXPECT_EQ(v["current-connections"], "9");
  EXPECT_EQ(v["current-producers"], "10");
  EXPECT_EQ(v["current-workers"], "11");
  EXPECT_EQ(v["current-waiting"], "12");
  EXPECT_EQ(v["total-connections"], "13");
  EXPECT_EQ(v["pid"], "4242");
  EXPECT_EQ(v["uptime"], "14");
  EXPECT_EQ(v["binlog-oldest-index"], "15");
  EXPECT_EQ(v["binlog-current-index"], "16");
  EXPECT_EQ(v["binlog-records-migrated"], "17");
  EXPECT_EQ(v["binlog-records-written"], "18");
  EXPECT_EQ(v["binlog-max-size"], "10485760");
}

TEST(StatsYaml, ServerStatsCommandCountersComeFromTheirOwnOp) {
  auto v = values_of(render_server_stats(sample_server_stats()));
  const std::pair<const char*, Op> pairs[] = {
      {"cmd-put", Op::Put},
      {"cmd-peek", Op::Peek},
      {"cmd-peek-ready", Op::PeekReady},
      {"cmd-peek-delayed", Op::PeekDelayed},
      {"cmd-peek-buried", Op::PeekBuried},
      {"cmd-reserve", Op::Reserve},
      {"cmd-reserve-with-timeout", Op::ReserveWithTimeout},
      {"cmd-delete", Op::Delete},
      {"cmd-release", Op::Release},
      {"cmd-use", Op::Use},
      {"cmd-watch", Op::Watch},
      {"cmd-ignore", Op::Ignore},
      {"cmd-bury", Op::Bury},
      {"cmd-kick", Op::Kick},
      {"cmd-touch", Op::Touch},
      {"cmd-stats", Op::Stats},
      {"cmd-stats-job", Op::StatsJob},
      {"cmd-stats-tube", Op::StatsTube},
      {"cmd-list-tubes", Op::ListTubes},
      {"cmd-list-tube-used", Op::ListTubeUsed},
      {"cmd-list-tubes-watched", Op::ListTubesWatched},
      {"cmd-pause-tube", Op::PauseTube},
  };
  for (const auto& [key, op] : pairs) EXPECT_EQ(v[key], std::to_string(cmd(op))) << key;
}

TEST(StatsYaml, ServerStatsQuoteTheStringValues) {
  auto v = values_of(render_server_stats(sample_server_stats()));
  EXPECT_EQ(v["version"], "\"1.13\"");
  EXPECT_EQ(v["hostname"], "\"host.example\"");
  EXPECT_EQ(v["os"], "\"#1 SMP PREEMPT_DYNAMIC Debian 6.1.0\"");
  EXPECT_EQ(v["platform"], "\"x86_64\"");
}

TEST(StatsYaml, ServerStatsInstanceIdIsUnquoted) {
  auto v = values_of(render_server_stats(sample_server_stats()));
  EXPECT_EQ(v["id"], "0123456789abcdef");
}

TEST(StatsYaml, EmptyStringValuesAreAnEmptyQuotedString) {
  auto v = values_of(render_server_stats(ServerStats{}));
  EXPECT_EQ(v["hostname"], "\"\"");
  EXPECT_EQ(v["version"], "\"\"");
}

TEST(StatsYaml, RusageIsPrintedInSecondsWithSixDecimals) {
  ServerStats s = sample_server_stats();
  auto v = values_of(render_server_stats(s));
  EXPECT_EQ(v["rusage-utime"], "1.234567");
  EXPECT_EQ(v["rusage-stime"], "0.000005");
  s.rusage_utime_us = 0;
  s.rusage_stime_us = 3'000'000;
  v = values_of(render_server_stats(s));
  EXPECT_EQ(v["rusage-utime"], "0.000000");
  EXPECT_EQ(v["rusage-stime"], "3.000000");
  s.rusage_utime_us = 86'400'000'001;
  v = values_of(render_server_stats(s));
  EXPECT_EQ(v["rusage-utime"], "86400.000001");
}

TEST(StatsYaml, DrainingIsTrueOrFalse) {
  ServerStats s = sample_server_stats();
  EXPECT_EQ(values_of(render_server_stats(s))["draining"], "false");
  s.draining = true;
  EXPECT_EQ(values_of(render_server_stats(s))["draining"], "true");
}

TEST(StatsYaml, LargeCountersArePrintedInFull) {
  ServerStats s;
  s.total_jobs = UINT64_MAX;
  EXPECT_EQ(values_of(render_server_stats(s))["total-jobs"], "18446744073709551615");
}

// ---------------------------------------------------------------------------
// stats-tube

TubeSnapshot sample_tube_stats() {
  TubeSnapshot t;
  t.name = "emails";
  t.jobs_urgent = 1;
  t.jobs_ready = 2;
  t.jobs_reserved = 3;
  t.jobs_delayed = 4;
  t.jobs_buried = 5;
  t.total_jobs = 6;
  t.using_count = 7;
  t.watching_count = 8;
  t.waiting_count = 9;
  t.cmd_delete = 10;
  t.cmd_pause_tube = 11;
  t.paused = true;
  // Fractions of a second are cut off, as the reference prints them.
  t.pause_duration = 12 * kNanosPerSecond + 999'999'999;
  t.pause_left = 13 * kNanosPerSecond + 1;
  return t;
}

TEST(StatsYaml, TubeStatsKeysAreInTheReferenceOrder) {
  EXPECT_EQ(keys_of(render_tube_stats(sample_tube_stats())), kTubeKeys);
}

TEST(StatsYaml, TubeStatsExactText) {
  EXPECT_EQ(render_tube_stats(sample_tube_stats()),
            "---\n"
            "name: \"emails\"\n"
            "current-jobs-urgent: 1\n"
            "current-jobs-ready: 2\n"
            "current-jobs-reserved: 3\n"
            "current-jobs-delayed: 4\n"
            "current-jobs-buried: 5\n"
            "total-jobs: 6\n"
            "current-using: 7\n"
            "current-watching: 8\n"
            "current-waiting: 9\n"
            "cmd-delete: 10\n"
            "cmd-pause-tube: 11\n"
            "pause: 12\n"
            "pause-time-left: 13\n");
}

TEST(StatsYaml, TubeNameWithSpecialCharactersIsQuotedVerbatim) {
  TubeSnapshot t = sample_tube_stats();
  t.name = "a+b/c;d.e$f_g(h)-i";
  EXPECT_EQ(values_of(render_tube_stats(t))["name"], "\"a+b/c;d.e$f_g(h)-i\"");
}

// ---------------------------------------------------------------------------
// stats-job

JobStats sample_job_stats() {
  JobStats j;
  j.id = 42;
  j.tube = "default";
  j.state = "reserved";
  j.priority = 1024;
  j.age = 5;
  j.delay = 6;
  j.ttr = 60;
  j.time_left = 59;
  j.file = 0;
  j.counts.reserves = 1;
  j.counts.timeouts = 2;
  j.counts.releases = 3;
  j.counts.buries = 4;
  j.counts.kicks = 5;
  return j;
}

TEST(StatsYaml, JobStatsKeysAreInTheReferenceOrder) {
  EXPECT_EQ(keys_of(render_job_stats(sample_job_stats())), kJobKeys);
}

TEST(StatsYaml, JobStatsExactText) {
  EXPECT_EQ(render_job_stats(sample_job_stats()),
            "---\n"
            "id: 42\n"
            "tube: \"default\"\n"
            "state: reserved\n"
            "pri: 1024\n"
            "age: 5\n"
            "delay: 6\n"
            "ttr: 60\n"
            "time-left: 59\n"
            "file: 0\n"
            "reserves: 1\n"
            "timeouts: 2\n"
            "releases: 3\n"
            "buries: 4\n"
            "kicks: 5\n");
}

TEST(StatsYaml, JobStateIsUnquoted) {
  for (const char* state : {"ready", "reserved", "delayed", "buried"}) {
    JobStats j = sample_job_stats();
    j.state = state;
    EXPECT_EQ(values_of(render_job_stats(j))["state"], state);
  }
}

TEST(StatsYaml, JobPriorityPrintsTheFullU32Range) {
  JobStats j = sample_job_stats();
  j.priority = 4294967295u;
  EXPECT_EQ(values_of(render_job_stats(j))["pri"], "4294967295");
}

// ---------------------------------------------------------------------------
// list-tubes, list-tubes-watched

TEST(StatsYaml, NameListIsAYamlSequence) {
  EXPECT_EQ(render_name_list({"default", "foo"}), "---\n- default\n- foo\n");
}

TEST(StatsYaml, NameListKeepsTheGivenOrder) {
  EXPECT_EQ(render_name_list({"zeta", "alpha", "default"}), "---\n- zeta\n- alpha\n- default\n");
}

TEST(StatsYaml, EmptyNameListIsJustTheHeader) {
  EXPECT_EQ(render_name_list({}), "---\n");
}

TEST(StatsYaml, NameListNamesAreUnquoted) {
  EXPECT_EQ(render_name_list({"a$b"}), "---\n- a$b\n");
}

}  // namespace
}  // namespace beanstalkd::protocol
