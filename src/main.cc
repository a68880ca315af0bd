// beanstalkd: parse the command line, set up logging, open the listener and
// serve until told to stop.
#include <unistd.h>

#include <csignal>
#include <iostream>

#include <spdlog/spdlog.h>

#include "beanstalkd/logging.h"
#include "beanstalkd/options.h"
#include "beanstalkd/server/server.h"
#include "beanstalkd/wal/check.h"

int main(int argc, char** argv) {
  auto parsed = beanstalkd::parse_command_line(argc, argv);
  if (parsed.action == beanstalkd::ParsedCommandLine::Action::Exit) return parsed.exit_code;
  beanstalkd::setup_logging(parsed.options.verbosity);

  if (!parsed.options.check_wal_dir.empty())
    return beanstalkd::wal::check_wal_directory(parsed.options.check_wal_dir, std::cout);
  // A client that disconnects mid-write must not kill the server.
  std::signal(SIGPIPE, SIG_IGN);

  // Names the process in the log, as the reference does ("pid N", with -V):
  // for kill -USR1 and for telling one run's lines from the next.
  spdlog::info("starting, pid {}", static_cast<long>(getpid()));
  beanstalkd::server::Server server(std::move(parsed.options));
  if (!server.open()) return 1;
  return server.run();
}
