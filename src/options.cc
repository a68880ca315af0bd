#include "beanstalkd/options.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "beanstalkd/version.h"

namespace beanstalkd {
namespace {

// Reads a decimal number, digits only; on failure sets `error` to say why.
// A number too large for 64 bits gives the largest value, with an error.
std::optional<std::uint64_t> read_unsigned(std::string_view text, std::string& error) {
  if (!text.empty() && text.front() == '-') {
    // A minus sign followed by digits is a negative number; anything else
    // after it (say, a flag taken as the value) is just not a number.
    const bool digits =
        text.size() > 1 && text.find_first_not_of("0123456789", 1) == std::string_view::npos;
    error = digits ? std::string(text) + " is negative"
                   : "\"" + std::string(text) + "\" is not a number";
    return std::nullopt;
  }
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    error = "\"" + std::string(text) + "\" is not a number";
    return std::nullopt;
  }
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t value = 0;
  for (const char c : text) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (kMax - digit) / 10) {
      error = std::string(text) + " is too large";
      return kMax;  // saturated, for callers that clamp
    }
    value = value * 10 + digit;
  }
  return value;
}

// A numeric option: its value is taken as text and read strictly here, so a
// negative number or trailing junk is refused with a message naming the flag
// (CLI11 would wrap "-1" around to a huge unsigned value, or report a range
// error for text that is not a number at all).
struct NumberOption {
  CLI::Option* option;
  const char* names;         // for messages: "-p/--port"
  std::string expected;      // for messages: "a number from 0 to 65535"
  std::uint64_t max;         // larger values are a usage error ...
  bool clamp_above = false;  // ... unless the caller clamps them (-z, -s)
};

// The value of the last occurrence of `n` on the command line, every
// occurrence checked; throws a usage error for a bad one.
std::optional<std::uint64_t> number_value(const NumberOption& n) {
  std::optional<std::uint64_t> last;
  for (const std::string& text : n.option->results()) {
    std::string error;
    std::optional<std::uint64_t> value = read_unsigned(text, error);
    if (value && *value > n.max && !n.clamp_above) error = text + " is out of range";
    if (!error.empty() && !(value && n.clamp_above))
      throw CLI::ValidationError(n.names, error + "; expected " + n.expected);
    last = value;
  }
  return last;
}

}  // namespace

ParsedCommandLine parse_command_line(int argc, const char* const* argv) {
  ParsedCommandLine result;
  Options& o = result.options;

  CLI::App app{"beanstalkd: a simple, fast work queue", "beanstalkd"};
  // As in the reference, a value flag given again replaces the earlier
  // value (a service file may add "-p" after its own "-p").
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_help_flag("-h,--help", "Print this help and exit");
  bool show_version = false;
  bool obsolete_c = false;
  bool obsolete_n = false;

  app.add_option("-b,--binlog-dir", o.binlog_dir,
                 "Write-ahead log directory: jobs survive restarts (default: memory only)")
      ->type_name("DIR");
  CLI::Option* fsync_option =
      app.add_option("-f,--fsync-ms",
                     "Sync the log at most every MS milliseconds; 0 syncs before every reply "
                     "(the last of -f and -F counts)")
          ->type_name("MS")
          ->default_str(std::to_string(o.fsync_ms));
  CLI::Option* no_fsync_option = app.add_flag("-F,--no-fsync", o.no_fsync, "Never sync the log");
  app.add_option("-l,--listen", o.listen_address,
                 "Listen on ADDR (IPv4, IPv6, host name, or unix:PATH)")
      ->type_name("ADDR")
      ->capture_default_str();
  CLI::Option* port_option = app.add_option("-p,--port", "Listen on TCP port PORT (0 to 65535)")
                                 ->type_name("PORT")
                                 ->default_str(std::to_string(o.port));
  app.add_option("-u,--user", o.user, "Become USER and its group after binding")->type_name("USER");
  CLI::Option* max_job_size_option =
      app.add_option("-z,--max-job-size", "Maximum job body size in bytes (at most 1073741824)")
          ->type_name("BYTES")
          ->default_str(std::to_string(o.max_job_size));
  CLI::Option* binlog_size_option =
      app.add_option("-s,--binlog-size", "Size of each log file in bytes")
          ->type_name("BYTES")
          ->default_str(std::to_string(o.binlog_size));
  app.add_option("--check-wal", o.check_wal_dir,
                 "Verify the log directory DIR without changing it, print a report and exit "
                 "(0 intact, 1 damaged, 2 unreadable)")
      ->type_name("DIR");
  app.add_option("--metrics-listen", o.metrics_listen,
                 "Serve Prometheus /metrics, /healthz and /readyz over HTTP on HOST:PORT "
                 "(off by default; the endpoint has no authentication)")
      ->type_name("HOST:PORT");
  CLI::Option* busy_poll_option =
      app.add_option("--busy-poll",
                     "When busy, poll up to USEC microseconds (at most 1000) for the next "
                     "request before sleeping (adapts to the load; for machines with a CPU to "
                     "spare; 0 = off)")
          ->type_name("USEC")
          ->default_str(std::to_string(o.busy_poll_us));
  app.add_flag("-c", obsolete_c, "Obsolete; accepted and ignored");
  app.add_flag("-n", obsolete_n, "Obsolete; accepted and ignored");
  app.add_flag("-V,--verbose", o.verbosity,
               "More log output; repeat (-VV) to log every command and reply");
  app.add_flag("-v,--version", show_version, "Print the version and exit");

  constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
  constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
  const NumberOption port{port_option, "-p/--port", "a number from 0 to 65535", 65535};
  const NumberOption fsync_ms{fsync_option, "-f/--fsync-ms",
                              "a number of milliseconds from 0 to " + std::to_string(kMaxU32),
                              kMaxU32};
  const NumberOption max_job_size{max_job_size_option, "-z/--max-job-size", "a number of bytes",
                                  kMaxU64, true};
  const NumberOption binlog_size{binlog_size_option, "-s/--binlog-size", "a number of bytes",
                                 kMaxU64, true};
  const NumberOption busy_poll{
      busy_poll_option, "--busy-poll",
      "a number of microseconds from 0 to " + std::to_string(kMaxBusyPollMicros),
      kMaxBusyPollMicros};
  // The text of -z and -s as given, for the warnings when they are clamped.
  std::string max_job_size_text;
  std::string binlog_size_text;
  try {
    app.parse(argc, argv);
    if (auto v = number_value(port)) o.port = static_cast<std::uint16_t>(*v);
    if (auto v = number_value(fsync_ms)) o.fsync_ms = static_cast<std::uint32_t>(*v);
    if (auto v = number_value(busy_poll)) o.busy_poll_us = static_cast<std::uint32_t>(*v);
    std::uint64_t job_size = o.max_job_size;
    if (auto v = number_value(max_job_size)) {
      job_size = *v;
      max_job_size_text = max_job_size_option->results().back();
    }
    if (job_size > kMaxJobSizeLimit) {
      o.warnings.push_back("maximum job size was set to " + max_job_size_text +
                           "; using the limit, " + std::to_string(kMaxJobSizeLimit));
      job_size = kMaxJobSizeLimit;
    }
    o.max_job_size = static_cast<std::uint32_t>(job_size);
    if (auto v = number_value(binlog_size)) {
      o.binlog_size = *v;
      binlog_size_text = binlog_size_option->results().back();
    }
  } catch (const CLI::CallForHelp& e) {
    result.action = ParsedCommandLine::Action::Exit;
    result.exit_code = app.exit(e);
    return result;
  } catch (const CLI::ParseError& e) {
    result.action = ParsedCommandLine::Action::Exit;
    std::cerr << "beanstalkd: " << e.what() << "\n\n" << app.help();
    result.exit_code = 1;
    return result;
  }

  // -f and -F set one thing, as in the reference: whichever comes last on
  // the command line wins (-F -f 10 syncs every 10 ms; -f 10 -F never).
  bool fsync_ms_last = false;
  for (const CLI::Option* given : app.parse_order()) {
    if (given == fsync_option) fsync_ms_last = true;
    if (given == no_fsync_option) fsync_ms_last = false;
  }
  if (fsync_ms_last) o.no_fsync = false;

  if (show_version) {
    std::printf("beanstalkd %s\n", kVersion);
    result.action = ParsedCommandLine::Action::Exit;
    return result;
  }
  if (o.binlog_size < kMinBinlogSize) {
    o.warnings.push_back("log file size " + binlog_size_text + " is too small; using " +
                         std::to_string(kMinBinlogSize));
    o.binlog_size = kMinBinlogSize;
  }
  if (o.binlog_size > kMaxBinlogSize) {
    o.warnings.push_back("log file size " + binlog_size_text + " is too large; using " +
                         std::to_string(kMaxBinlogSize));
    o.binlog_size = kMaxBinlogSize;
  }
  if (obsolete_c) o.warnings.push_back("-c is obsolete and ignored");
  if (obsolete_n) o.warnings.push_back("-n is obsolete and ignored");
  return result;
}

}  // namespace beanstalkd
