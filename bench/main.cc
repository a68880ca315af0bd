// beanstalkd-bench: a load generator for any server that speaks the beanstalk protocol, in the
// spirit of redis-benchmark. One run of one scenario per invocation; compare.sh runs the series.

#include <sys/prctl.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <string>
#include <variant>

#include "bench_error.h"
#include "clock.h"
#include "endpoint.h"
#include "fd_limit.h"
#include "options.h"
#include "report.h"
#include "scenario.h"
#include "server_probe.h"

namespace {

// Extra seconds the watchdog alarm allows beyond --timeout.
constexpr double kWatchdogGrace = 10;

void print(const bench::Options& options, const bench::Report& report) {
  std::FILE* human = options.format == bench::OutputFormat::human ? stdout : stderr;
  if (!options.quiet) std::fprintf(human, "%s\n", bench::human_line(report).c_str());
  if (options.format == bench::OutputFormat::json) {
    std::printf("%s\n", bench::json_line(report).c_str());
  } else if (options.format == bench::OutputFormat::csv) {
    if (options.csv_header) std::printf("%s\n", bench::csv_header(report).c_str());
    std::printf("%s\n", bench::csv_line(report).c_str());
  }
}

int run(const bench::Options& options) {
  using namespace bench;
  const std::int64_t deadline = now_ns() + seconds_to_ns(options.timeout_s);
  const std::size_t fd_limit = raise_fd_limit();
  const Endpoint endpoint = Endpoint::parse(options.server);
  ServerProbe probe(endpoint, options.server_pid, deadline);
  ScenarioEnv env{options, endpoint, probe, deadline, fd_limit};
  // Fail before any load rather than on the first JOB_TOO_BIG in the middle of a phase.
  if (options.scenario != "connections") {
    const std::int64_t max_job_size = probe.stat("max-job-size", deadline);
    if (static_cast<std::int64_t>(options.body_size) > max_job_size) {
      throw BenchError("--body-size " + std::to_string(options.body_size) +
                       " is above the server's max-job-size of " + std::to_string(max_job_size));
    }
  }

  Report report = find_scenario(options.scenario)->run(env);
  report.add("server_rss_kib", static_cast<double>(probe.rss_kib()));
  report.add("server_peak_rss_kib", static_cast<double>(probe.peak_rss_kib()));
  print(options, report);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = bench::parse_options(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const auto& options = std::get<bench::Options>(parsed);

  // Every wait in the program is bounded by --timeout; the alarm is the backstop that ends the
  // process even if something were not.
  ::alarm(static_cast<unsigned>(std::ceil(options.timeout_s + kWatchdogGrace)));
  // Sends use MSG_NOSIGNAL; this covers anything else that writes to a closed socket.
  std::signal(SIGPIPE, SIG_IGN);
  // A paced producer sleeps until its next send is due, with a nanosecond timeout; Linux lets a
  // normal thread's timers fire up to 50 us late (the timer slack), which would make it send late
  // and in clumps, and put the measured latency at the mercy of that phase.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

  try {
    return run(options);
  } catch (const bench::BenchError& error) {
    std::fprintf(stderr, "beanstalkd-bench: %s\n", error.what());
    return 1;
  }
}
