#include "beanstalkd/options.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "beanstalkd/version.h"

namespace beanstalkd {

ParsedCommandLine parse_command_line(int argc, const char* const* argv) {
  ParsedCommandLine result;
  Options& o = result.options;

  CLI::App app{"beanstalkd: a simple, fast work queue", "beanstalkd"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  bool show_version = false;
  bool obsolete_c = false;
  bool obsolete_n = false;
  std::uint64_t max_job_size = o.max_job_size;
  // Wider than the port itself, so 99999 is reported as out of range rather
  // than as a number that "could not convert".
  std::uint32_t port = o.port;

  app.add_option("-b,--binlog-dir", o.binlog_dir,
                 "Write-ahead log directory: jobs survive restarts (default: memory only)")
      ->type_name("DIR");
  app.add_option("-f,--fsync-ms", o.fsync_ms,
                 "Sync the log at most every MS milliseconds; 0 syncs before every reply")
      ->type_name("MS")
      ->capture_default_str();
  app.add_flag("-F,--no-fsync", o.no_fsync, "Never sync the log");
  app.add_option("-l,--listen", o.listen_address,
                 "Listen on ADDR (IPv4, IPv6, host name, or unix:PATH)")
      ->type_name("ADDR")
      ->capture_default_str();
  app.add_option("-p,--port", port, "Listen on TCP port PORT")
      ->type_name("PORT")
      ->capture_default_str()
      ->check(CLI::Range(0u, 65535u));
  app.add_option("-u,--user", o.user, "Become USER and its group after binding")->type_name("USER");
  app.add_option("-z,--max-job-size", max_job_size,
                 "Maximum job body size in bytes (at most 1073741824)")
      ->type_name("BYTES")
      ->capture_default_str();
  app.add_option("-s,--binlog-size", o.binlog_size, "Size of each log file in bytes")
      ->type_name("BYTES")
      ->capture_default_str();
  app.add_option("--check-wal", o.check_wal_dir,
                 "Verify the log directory DIR without changing it, print a report and exit "
                 "(0 intact, 1 damaged, 2 unreadable)")
      ->type_name("DIR");
  app.add_option("--metrics-listen", o.metrics_listen,
                 "Serve Prometheus /metrics, /healthz and /readyz over HTTP on HOST:PORT "
                 "(off by default; the endpoint has no authentication)")
      ->type_name("HOST:PORT");
  app.add_option("--busy-poll", o.busy_poll_us,
                 "When busy, poll up to USEC microseconds for the next request before "
                 "sleeping (adapts to the load; for machines with a CPU to spare; 0 = off)")
      ->type_name("USEC")
      ->capture_default_str()
      ->check(CLI::Range(0u, kMaxBusyPollMicros));
  app.add_flag("-c", obsolete_c, "Obsolete; accepted and ignored");
  app.add_flag("-n", obsolete_n, "Obsolete; accepted and ignored");
  app.add_flag("-V,--verbose", o.verbosity,
               "More log output; repeat (-VV) to log every command and reply");
  app.add_flag("-v,--version", show_version, "Print the version and exit");

  try {
    app.parse(argc, argv);
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

  if (show_version) {
    std::printf("beanstalkd %s\n", kVersion);
    result.action = ParsedCommandLine::Action::Exit;
    return result;
  }
  if (max_job_size > kMaxJobSizeLimit) {
    o.warnings.push_back("maximum job size was set to " + std::to_string(max_job_size) +
                         "; using the limit, " + std::to_string(kMaxJobSizeLimit));
    max_job_size = kMaxJobSizeLimit;
  }
  o.port = static_cast<std::uint16_t>(port);
  o.max_job_size = static_cast<std::uint32_t>(max_job_size);
  if (o.binlog_size < kMinBinlogSize) {
    o.warnings.push_back("log file size " + std::to_string(o.binlog_size) +
                         " is too small; using " + std::to_string(kMinBinlogSize));
    o.binlog_size = kMinBinlogSize;
  }
  if (o.binlog_size > kMaxBinlogSize) {
    o.warnings.push_back("log file size " + std::to_string(o.binlog_size) +
                         " is too large; using " + std::to_string(kMaxBinlogSize));
    o.binlog_size = kMaxBinlogSize;
  }
  if (obsolete_c) o.warnings.push_back("-c is obsolete and ignored");
  if (obsolete_n) o.warnings.push_back("-n is obsolete and ignored");
  return result;
}

}  // namespace beanstalkd
