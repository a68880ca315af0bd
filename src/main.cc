// beanstalkd: parse the command line, set up logging, open the listener and
// serve until told to stop.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "beanstalkd/options.h"
#include "beanstalkd/server/server.h"
#include "beanstalkd/wal/check.h"

namespace {

void setup_logging(int verbosity) {
  auto logger = spdlog::stderr_logger_st("beanstalkd");
  // Under systemd the journal adds its own timestamps.
  if (std::getenv("JOURNAL_STREAM")) {
    logger->set_pattern("%l: %v");
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l: %v");
  }
  logger->set_level(verbosity >= 2   ? spdlog::level::trace
                    : verbosity == 1 ? spdlog::level::debug
                                     : spdlog::level::info);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = beanstalkd::parse_command_line(argc, argv);
  if (parsed.action == beanstalkd::ParsedCommandLine::Action::Exit) return parsed.exit_code;
  setup_logging(parsed.options.verbosity);

  if (!parsed.options.check_wal_dir.empty())
    return beanstalkd::wal::check_wal_directory(parsed.options.check_wal_dir, std::cout);
  // A client that disconnects mid-write must not kill the server.
  std::signal(SIGPIPE, SIG_IGN);

  beanstalkd::server::Server server(std::move(parsed.options));
  if (!server.open()) return 1;
  return server.run();
}
