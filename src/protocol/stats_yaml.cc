#include "beanstalkd/protocol/stats_yaml.h"

#include <cinttypes>
#include <cstdio>

namespace beanstalkd::protocol {

namespace {

// Appends "key: value\n" lines.
class YamlMap {
 public:
  YamlMap() {
    out_.reserve(1024);
    out_ = "---\n";
  }

  void num(std::string_view key, std::uint64_t v) { line(key, std::to_string(v)); }
  void num(std::string_view key, std::int64_t v) { line(key, std::to_string(v)); }
  void num(std::string_view key, std::uint32_t v) { num(key, std::uint64_t{v}); }
  void boolean(std::string_view key, bool v) { line(key, v ? "true" : "false"); }
  void str(std::string_view key, std::string_view v) {
    std::string quoted = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += c;
    }
    quoted += '"';
    line(key, quoted);
  }
  void seconds_us(std::string_view key, std::int64_t us) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%" PRId64 ".%06" PRId64, us / 1000000, us % 1000000);
    line(key, buf);
  }
  void raw(std::string_view key, std::string_view v) { line(key, v); }
  std::string take() { return std::move(out_); }

 private:
  void line(std::string_view key, std::string_view value) {
    out_.append(key).append(": ").append(value).push_back('\n');
  }
  std::string out_;
};

std::uint64_t count(const CommandCounts& c, Op op) {
  return c[static_cast<std::size_t>(op)];
}

}  // namespace

std::string render_server_stats(const ServerStats& s) {
  YamlMap y;
  y.num("current-jobs-urgent", s.jobs_urgent);
  y.num("current-jobs-ready", s.jobs_ready);
  y.num("current-jobs-reserved", s.jobs_reserved);
  y.num("current-jobs-delayed", s.jobs_delayed);
  y.num("current-jobs-buried", s.jobs_buried);
  static constexpr std::pair<std::string_view, Op> kCommandKeys[] = {
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
  for (const auto& [key, op] : kCommandKeys) y.num(key, count(s.commands, op));
  y.num("job-timeouts", s.job_timeouts);
  y.num("total-jobs", s.total_jobs);
  y.num("max-job-size", s.max_job_size);
  y.num("current-tubes", s.current_tubes);
  y.num("current-connections", s.current_connections);
  y.num("current-producers", s.current_producers);
  y.num("current-workers", s.current_workers);
  y.num("current-waiting", s.current_waiting);
  y.num("total-connections", s.total_connections);
  y.num("pid", s.pid);
  y.str("version", s.version);
  y.seconds_us("rusage-utime", s.rusage_utime_us);
  y.seconds_us("rusage-stime", s.rusage_stime_us);
  y.num("uptime", s.uptime_seconds);
  y.num("binlog-oldest-index", s.binlog_oldest_index);
  y.num("binlog-current-index", s.binlog_current_index);
  y.num("binlog-records-migrated", s.binlog_records_migrated);
  y.num("binlog-records-written", s.binlog_records_written);
  y.num("binlog-max-size", s.binlog_max_size);
  y.boolean("draining", s.draining);
  y.raw("id", s.instance_id);
  y.str("hostname", s.hostname);
  y.str("os", s.os);
  y.str("platform", s.platform);
  return y.take();
}

std::string render_tube_stats(const TubeSnapshot& t) {
  YamlMap y;
  y.str("name", t.name);
  y.num("current-jobs-urgent", t.jobs_urgent);
  y.num("current-jobs-ready", t.jobs_ready);
  y.num("current-jobs-reserved", t.jobs_reserved);
  y.num("current-jobs-delayed", t.jobs_delayed);
  y.num("current-jobs-buried", t.jobs_buried);
  y.num("total-jobs", t.total_jobs);
  y.num("current-using", t.using_count);
  y.num("current-watching", t.watching_count);
  y.num("current-waiting", t.waiting_count);
  y.num("cmd-delete", t.cmd_delete);
  y.num("cmd-pause-tube", t.cmd_pause_tube);
  y.num("pause", static_cast<std::uint64_t>(t.pause_duration / kNanosPerSecond));
  y.num("pause-time-left", static_cast<std::uint64_t>(t.pause_left / kNanosPerSecond));
  return y.take();
}

std::string render_job_stats(const JobStats& j) {
  YamlMap y;
  y.num("id", j.id);
  y.str("tube", j.tube);
  y.raw("state", j.state);
  y.num("pri", j.priority);
  y.num("age", j.age);
  y.num("delay", j.delay);
  y.num("ttr", j.ttr);
  y.num("time-left", j.time_left);
  y.num("file", j.file);
  y.num("reserves", j.counts.reserves);
  y.num("timeouts", j.counts.timeouts);
  y.num("releases", j.counts.releases);
  y.num("buries", j.counts.buries);
  y.num("kicks", j.counts.kicks);
  return y.take();
}

std::string render_name_list(const std::vector<std::string_view>& names) {
  std::string out = "---\n";
  for (std::string_view name : names) out.append("- ").append(name).push_back('\n');
  return out;
}

}  // namespace beanstalkd::protocol
