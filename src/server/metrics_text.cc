#include "beanstalkd/server/metrics_text.h"

#include <array>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <span>

namespace beanstalkd::server {

namespace {

double seconds(Nanos ns) {
  return static_cast<double>(ns) / static_cast<double>(kNanosPerSecond);
}

struct Label {
  std::string_view name;
  std::string_view value;
};

void append_uint(std::string& out, std::uint64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  out.append(buf, end);
}

// HELP text escapes backslash and newline only.
void append_help_text(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    append_help_text(out_, help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value) {
    start(name, labels);
    append_uint(out_, value);
    out_ += '\n';
  }
  void sample(std::string_view name, std::initializer_list<Label> labels, double value) {
    start(name, labels);
    append_number(out_, value);
    out_ += '\n';
  }
  void sample(std::string_view name, std::initializer_list<Label> labels, bool value) {
    sample(name, labels, std::uint64_t{value ? 1u : 0u});
  }

  // A family with one unlabelled sample.
  void gauge(std::string_view name, std::string_view help, std::uint64_t value) {
    family(name, "gauge", help);
    sample(name, {}, value);
  }
  void gauge(std::string_view name, std::string_view help, double value) {
    family(name, "gauge", help);
    sample(name, {}, value);
  }
  void counter(std::string_view name, std::string_view help, std::uint64_t value) {
    family(name, "counter", help);
    sample(name, {}, value);
  }

  // The _bucket, _sum and _count series of one histogram (without the
  // family lines): `counts` holds one count per bucket (the last one +Inf),
  // not cumulative; the exposition's buckets are.
  void histogram_series(std::string_view name, std::initializer_list<Label> labels,
                        std::span<const std::string> le, std::span<const std::uint64_t> counts,
                        double sum) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      cumulative += counts[i];
      start_suffixed(name, "_bucket", labels);
      out_ += labels.size() == 0 ? "{" : ",";
      out_ += "le=\"";
      out_ += le[i];
      out_ += "\"} ";
      append_uint(out_, cumulative);
      out_ += '\n';
    }
    start_suffixed(name, "_sum", labels);
    close_labels(labels);
    append_number(out_, sum);
    out_ += '\n';
    start_suffixed(name, "_count", labels);
    close_labels(labels);
    append_uint(out_, cumulative);
    out_ += '\n';
  }

 private:
  void start(std::string_view name, std::initializer_list<Label> labels) {
    out_ += name;
    append_labels(labels);
    if (labels.size() > 0) out_ += '}';
    out_ += ' ';
  }
  void start_suffixed(std::string_view name, std::string_view suffix,
                      std::initializer_list<Label> labels) {
    out_ += name;
    out_ += suffix;
    append_labels(labels);
  }
  // Opens the brace and writes the labels, leaving it open.
  void append_labels(std::initializer_list<Label> labels) {
    bool first = true;
    for (const Label& l : labels) {
      out_ += first ? '{' : ',';
      first = false;
      out_ += l.name;
      out_ += "=\"";
      append_label_value(out_, l.value);
      out_ += '"';
    }
  }
  void close_labels(std::initializer_list<Label> labels) {
    out_ += labels.size() == 0 ? " " : "} ";
  }

  std::string& out_;
};

template <std::size_t N>
std::array<std::string, N + 1> le_labels(const std::array<double, N>& bounds) {
  std::array<std::string, N + 1> le;
  for (std::size_t i = 0; i < N; ++i) append_number(le[i], bounds[i]);
  le[N] = "+Inf";
  return le;
}

const std::array<std::string, kLatencyBounds.size() + 1>& command_le() {
  static const auto le = le_labels(kLatencyBounds);
  return le;
}

const std::array<std::string, wal::kSyncLatencyBounds.size() + 1>& sync_le() {
  static const auto le = le_labels(wal::kSyncLatencyBounds);
  return le;
}

constexpr std::array<std::string_view, 4> kStates = {"ready", "reserved", "delayed", "buried"};

void render_server(Writer& w, const MetricsSnapshot& m) {
  const protocol::ServerStats& s = m.server;
  w.family("beanstalkd_build_info", "gauge", "Always 1; the version of the running server.");
  w.sample("beanstalkd_build_info", {{"version", s.version}}, std::uint64_t{1});
  w.gauge("beanstalkd_uptime_seconds", "Seconds since the server started.", s.uptime_seconds);
  w.gauge("beanstalkd_draining", "1 in drain mode (after SIGUSR1: puts answer DRAINING).",
          std::uint64_t{s.draining});
  w.gauge("beanstalkd_ready",
          "1 while the server accepts new jobs (as /readyz): not draining, not stopping, and "
          "the log, if any, healthy.",
          std::uint64_t{m.ready});

  w.family("beanstalkd_jobs", "gauge", "Jobs by state.");
  const std::array<std::uint64_t, 4> jobs = {s.jobs_ready, s.jobs_reserved, s.jobs_delayed,
                                             s.jobs_buried};
  for (std::size_t i = 0; i < kStates.size(); ++i)
    w.sample("beanstalkd_jobs", {{"state", kStates[i]}}, jobs[i]);
  w.gauge("beanstalkd_jobs_urgent", "Ready jobs with priority below 1024.", s.jobs_urgent);
  w.counter("beanstalkd_jobs_created_total", "Jobs created by put.", s.total_jobs);
  w.counter("beanstalkd_job_timeouts_total", "Reservations that ran out of time (TTR).",
            s.job_timeouts);
  w.gauge("beanstalkd_max_job_size_bytes", "The largest job body accepted (-z).", s.max_job_size);
  w.gauge("beanstalkd_tubes", "Tubes that exist.", s.current_tubes);

  w.gauge("beanstalkd_connections", "Open client connections.", s.current_connections);
  w.gauge("beanstalkd_connections_producers", "Open connections that have put a job.",
          s.current_producers);
  w.gauge("beanstalkd_connections_workers", "Open connections that have reserved a job.",
          s.current_workers);
  w.gauge("beanstalkd_connections_waiting", "Connections waiting in reserve.", s.current_waiting);
  w.counter("beanstalkd_connections_accepted_total", "Client connections accepted.",
            s.total_connections);
  w.counter("beanstalkd_accept_failures_total",
            "Accepts that failed for lack of file descriptors or memory; accepting pauses for "
            "100 ms after each.",
            m.accept_failures);
  w.gauge("beanstalkd_accept_paused",
          "1 while accepting is paused for lack of file descriptors or memory, until no "
          "connection is left waiting.",
          std::uint64_t{m.accept_paused});
  w.gauge("beanstalkd_replies_awaiting_log",
          "Connections whose replies wait for the log to be synced (-f 0).",
          m.replies_awaiting_log);

  w.family("beanstalkd_cpu_seconds_total", "counter", "CPU time used by the process, by mode.");
  w.sample("beanstalkd_cpu_seconds_total", {{"mode", "user"}},
           static_cast<double>(s.rusage_utime_us) / 1e6);
  w.sample("beanstalkd_cpu_seconds_total", {{"mode", "system"}},
           static_cast<double>(s.rusage_stime_us) / 1e6);
}

void render_commands(Writer& w, const MetricsSnapshot& m) {
  w.family("beanstalkd_commands_total", "counter", "Commands received, by command.");
  for (std::size_t i = 0; i < protocol::kOpCount; ++i)
    w.sample("beanstalkd_commands_total",
             {{"command", protocol::op_name(static_cast<protocol::Op>(i))}}, m.server.commands[i]);

  w.family("beanstalkd_command_duration_seconds", "histogram",
           "Time from parsing a command to queueing its reply, by command (a reserve that "
           "waits counts until it starts waiting).");
  const auto& le = command_le();
  for (std::size_t i = 0; i < protocol::kOpCount; ++i) {
    const LatencyHistogram& h = m.latencies[i];
    w.histogram_series("beanstalkd_command_duration_seconds",
                       {{"command", protocol::op_name(static_cast<protocol::Op>(i))}}, le,
                       h.buckets, h.seconds_total);
  }
}

void render_wal(Writer& w, const MetricsSnapshot& m) {
  w.gauge("beanstalkd_wal_enabled", "1 when the server keeps a write-ahead log (-b).",
          std::uint64_t{m.wal.has_value()});
  if (!m.wal) return;
  const WalMetrics& l = *m.wal;
  const wal::WalStats& st = l.stats;
  w.gauge("beanstalkd_wal_healthy",
          "1 while the log can persist every change; 0 after a write or sync failure, until a "
          "retry succeeds, and while it is full.",
          std::uint64_t{l.healthy});
  w.gauge("beanstalkd_wal_full",
          "1 while the disk has no room for the next log file: puts are refused, deletes go "
          "into the current file's reserve and free the disk.",
          std::uint64_t{l.full});
  w.counter("beanstalkd_wal_bytes_written_total", "Bytes written to the log.", st.bytes_written);
  w.counter("beanstalkd_wal_records_written_total", "Records written to the log.",
            st.records_written);
  w.counter("beanstalkd_wal_records_migrated_total", "Records copied forward by compaction.",
            st.records_migrated);
  w.counter("beanstalkd_wal_syncs_total", "Syncs (fdatasync) of the log, failed ones included.",
            st.syncs);
  w.counter("beanstalkd_wal_write_failures_total", "Failed writes to the log.", st.write_failures);
  w.counter("beanstalkd_wal_sync_failures_total", "Failed syncs of the log.", st.sync_failures);
  w.counter("beanstalkd_wal_body_read_failures_total",
            "Bodies of recovered jobs that could not be read back intact from the log "
            "(answered INTERNAL_ERROR).",
            st.body_read_failures);
  w.counter("beanstalkd_wal_files_deleted_total", "Log files deleted once obsolete.",
            st.files_deleted);
  w.family("beanstalkd_wal_sync_duration_seconds", "histogram", "Time taken by each log sync.");
  w.histogram_series("beanstalkd_wal_sync_duration_seconds", {}, sync_le(), st.sync_latency_buckets,
                     st.sync_seconds_total);
  w.gauge("beanstalkd_wal_disk_bytes", "Bytes in the log's files.", l.disk_bytes);
  w.gauge("beanstalkd_wal_live_bytes", "Bytes of the log's records of live jobs.", l.live_bytes);
  w.gauge("beanstalkd_wal_oldest_file_index", "Index of the oldest log file.", l.oldest_file_index);
  w.gauge("beanstalkd_wal_current_file_index", "Index of the log file being written.",
          l.current_file_index);
  w.gauge("beanstalkd_wal_max_file_size_bytes", "Size of each log file (-s).", l.max_file_size);
}

void render_tubes(Writer& w, const MetricsSnapshot& m) {
  const std::vector<TubeSnapshot>& tubes = m.tubes;
  w.family("beanstalkd_tube_jobs", "gauge", "Jobs in the tube, by state.");
  for (const TubeSnapshot& t : tubes) {
    const std::array<std::uint64_t, 4> jobs = {t.jobs_ready, t.jobs_reserved, t.jobs_delayed,
                                               t.jobs_buried};
    for (std::size_t i = 0; i < kStates.size(); ++i)
      w.sample("beanstalkd_tube_jobs", {{"tube", t.name}, {"state", kStates[i]}}, jobs[i]);
  }

  // One family per figure, every tube's sample together, as the format
  // requires.
  struct UintFamily {
    std::string_view name, type, help;
    std::uint64_t TubeSnapshot::*field;
  };
  static constexpr std::array<UintFamily, 7> kFamilies = {{
      {"beanstalkd_tube_jobs_urgent", "gauge", "Ready jobs in the tube with priority below 1024.",
       &TubeSnapshot::jobs_urgent},
      {"beanstalkd_tube_jobs_created_total", "counter", "Jobs put into the tube.",
       &TubeSnapshot::total_jobs},
      {"beanstalkd_tube_connections_using", "gauge", "Connections using the tube.",
       &TubeSnapshot::using_count},
      {"beanstalkd_tube_connections_watching", "gauge", "Connections watching the tube.",
       &TubeSnapshot::watching_count},
      {"beanstalkd_tube_connections_waiting", "gauge",
       "Connections waiting in reserve on the tube.", &TubeSnapshot::waiting_count},
      {"beanstalkd_tube_deletes_total", "counter", "Delete commands for jobs of the tube.",
       &TubeSnapshot::cmd_delete},
      {"beanstalkd_tube_pauses_total", "counter", "pause-tube commands for the tube.",
       &TubeSnapshot::cmd_pause_tube},
  }};
  for (const UintFamily& f : kFamilies) {
    w.family(f.name, f.type, f.help);
    for (const TubeSnapshot& t : tubes) w.sample(f.name, {{"tube", t.name}}, t.*(f.field));
  }

  w.family("beanstalkd_tube_paused", "gauge", "1 while the tube is paused.");
  for (const TubeSnapshot& t : tubes)
    w.sample("beanstalkd_tube_paused", {{"tube", t.name}}, t.paused);
  w.family("beanstalkd_tube_pause_duration_seconds", "gauge",
           "Length of the tube's current pause; 0 when not paused.");
  for (const TubeSnapshot& t : tubes)
    w.sample("beanstalkd_tube_pause_duration_seconds", {{"tube", t.name}},
             seconds(t.pause_duration));
  w.family("beanstalkd_tube_pause_remaining_seconds", "gauge",
           "Time until the tube's pause ends; 0 when not paused.");
  for (const TubeSnapshot& t : tubes)
    w.sample("beanstalkd_tube_pause_remaining_seconds", {{"tube", t.name}}, seconds(t.pause_left));
}

}  // namespace

void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  // Shortest round-trip digits; fixed notation for exponents from -4 to 20
  // (0.0001, 2.25, 1500000), scientific outside it (1e-06, 2.5e-05), as
  // Prometheus's own clients print bucket bounds.
  char buf[64];
  char* end = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific).ptr;
  const std::string_view sci(buf, static_cast<std::size_t>(end - buf));
  std::string_view exponent_text = sci.substr(sci.find('e') + 1);
  if (exponent_text.starts_with('+')) exponent_text.remove_prefix(1);
  int exponent = 0;
  std::from_chars(exponent_text.data(), exponent_text.data() + exponent_text.size(), exponent);
  if (exponent >= -4 && exponent <= 20) {
    end = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed).ptr;
  }
  out.append(buf, end);
}

void render_metrics(const MetricsSnapshot& snapshot, std::string& out) {
  Writer w(out);
  render_server(w, snapshot);
  render_commands(w, snapshot);
  render_wal(w, snapshot);
  render_tubes(w, snapshot);
}

std::string render_metrics(const MetricsSnapshot& snapshot) {
  std::string out;
  render_metrics(snapshot, out);
  return out;
}

}  // namespace beanstalkd::server
