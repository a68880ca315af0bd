#include "options.h"

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <limits>
#include <string>

#include "job_body.h"
#include "scenario.h"

namespace bench {
namespace {

constexpr std::string_view kTubeCharacters =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()";

std::string scenario_help() {
  std::string text = "Scenarios:\n";
  for (const ScenarioInfo& info : all_scenarios()) {
    text += "  " + std::string(info.name) + std::string(14 - info.name.size(), ' ') +
            std::string(info.summary) + "\n";
  }
  text +=
      "\nEvery run is bounded by --timeout. Server memory figures read /proc/PID/status of the "
      "server,\nso they need a server on this machine (PID from --server-pid or the server's "
      "stats).";
  return text;
}

// Checks that combine options; returns an error message, empty when all is well.
std::string check_combination(const Options& options) {
  if (options.duration_s > 0 && options.duration_s >= options.timeout_s) {
    return "--duration must be shorter than --timeout";
  }
  if (options.stream_body > 0 && options.scenario != "cycle") {
    return "--stream-body applies to the cycle scenario only";
  }
  const bool stamped = options.scenario == "deliver" || options.scenario == "spray";
  if (stamped && options.body_size < kStampSize) {
    return options.scenario + " needs --body-size of at least " + std::to_string(kStampSize) +
           " (the send time travels in the body)";
  }
  return {};
}

}  // namespace

std::variant<Options, int> parse_options(int argc, char** argv) {
  Options options;
  CLI::App app{"Load generator for servers that speak the beanstalk protocol."};
  app.name("beanstalkd-bench");
  app.footer(scenario_help());
  app.option_defaults()->always_capture_default();

  app.add_option("-s,--server", options.server, "Server address: host:port or unix:PATH");
  app.add_option("-t,--scenario", options.scenario, "What to measure (see below)")
      ->check(CLI::IsMember(scenario_names()));
  CLI::Option* connections =
      app.add_option("-c,--connections", options.connections,
                     "Connections (producers in spray, idle ones in connections: 10000)")
          ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  app.add_option("-P,--pipeline", options.pipeline, "Commands in flight per connection")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  app.add_option("-d,--body-size", options.body_size, "Job body size in bytes")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 30));
  CLI::Option* jobs =
      app.add_option("-n,--jobs", options.jobs, "Jobs (cycles) to run; memory: 1000000")
          ->check(CLI::Range(std::int64_t{1}, std::numeric_limits<std::int64_t>::max()));
  app.add_option("-D,--duration", options.duration_s,
                 "Seconds to run instead of a job count (0: use --jobs)")
      ->check(CLI::NonNegativeNumber);
  CLI::Option* tubes =
      app.add_option("--tubes", options.tubes, "Tubes to spread the load over; spray: 100")
          ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  CLI::Option* rate =
      app.add_option("-r,--rate", options.rate,
                     "Target jobs/s over all producers (0: as fast as possible); deliver: 10000")
          ->check(CLI::NonNegativeNumber);
  app.add_option("--threads", options.threads, "Client threads, each with its own event loop")
      ->check(CLI::Range(std::size_t{1}, std::size_t{256}));
  app.add_option("--timeout", options.timeout_s, "Hard limit in seconds on the whole run")
      ->check(CLI::PositiveNumber);
  app.add_option("--server-pid", options.server_pid,
                 "Server process for memory figures (default: the pid in its stats)")
      ->check(CLI::PositiveNumber);
  app.add_option("--watch-every", options.watch_every,
                 "connections: every Nth connection watches a tube (0: none)");
  app.add_option("--hold", options.hold_s,
                 "connections: seconds to hold them before reading memory")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--keep", options.keep_jobs, "put: leave the jobs in the server");
  app.add_option("--stream-body", options.stream_body,
                 "cycle: meanwhile one more client loops put/reserve/delete of a body of this "
                 "many bytes (the server needs -z at least as big; 0: none)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 30));
  app.add_option("--tube-prefix", options.tube_prefix, "Prefix of the tubes the runs use")
      ->check([](const std::string& prefix) {
        const bool valid = !prefix.empty() && prefix.size() <= 100 && prefix.front() != '-' &&
                           prefix.find_first_not_of(kTubeCharacters) == std::string::npos;
        return valid ? std::string() : std::string("not a valid tube name prefix");
      });
  app.add_option("--label", options.label, "Free text copied into the JSON/CSV record");
  bool json = false;
  bool csv = false;
  bool no_header = false;
  CLI::Option* json_flag =
      app.add_flag("--json", json, "Print a JSON record (the human line goes to stderr)");
  CLI::Option* csv_flag =
      app.add_flag("--csv", csv, "Print a CSV header and record (human line to stderr)");
  json_flag->excludes(csv_flag);
  app.add_flag("--no-header", no_header, "With --csv: leave out the header line");
  app.add_flag("-q,--quiet", options.quiet, "No human-readable line");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version exit 0; every usage error exits 2, whatever CLI11's own code.
    return app.exit(error) == 0 ? 0 : 2;
  }

  // Defaults that make sense only for one scenario.
  if (connections->count() == 0) {
    if (options.scenario == "connections") options.connections = 10'000;
    if (options.scenario == "spray") options.connections = 1;
  }
  if (jobs->count() == 0 && options.scenario == "memory") options.jobs = 1'000'000;
  if (tubes->count() == 0 && options.scenario == "spray") options.tubes = 100;
  if (rate->count() == 0 && options.scenario == "deliver") options.rate = 10'000;
  options.format = json ? OutputFormat::json : csv ? OutputFormat::csv : OutputFormat::human;
  options.csv_header = !no_header;

  if (const std::string problem = check_combination(options); !problem.empty()) {
    std::cerr << "beanstalkd-bench: " << problem << "\n";
    return 2;
  }
  return options;
}

}  // namespace bench
