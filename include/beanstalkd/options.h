// The command line: the reference's short flags with the same meanings and
// defaults, plus long aliases. Parsing never touches the network or disk.
// As in the reference, a flag given again replaces its earlier value, and
// the last of -f and -F wins. Numbers are decimal digits only: a negative
// value or other text is a usage error naming the flag.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace beanstalkd {

struct Options {
  std::string listen_address = "0.0.0.0";  // -l; "unix:PATH" for a unix socket
  std::uint16_t port = 11300;              // -p
  std::string user;                        // -u
  std::uint32_t max_job_size = 65535;      // -z, clamped to kMaxJobSizeLimit
  std::string binlog_dir;                  // -b; empty = memory only
  std::uint32_t fsync_ms = 50;             // -f
  bool no_fsync = false;                   // -F, unless a later -f
  std::uint64_t binlog_size = 10485760;    // -s
  int verbosity = 0;                       // -V, repeatable
  std::string check_wal_dir;               // --check-wal: verify offline and exit
  std::string metrics_listen;              // --metrics-listen HOST:PORT; empty = off
  std::uint32_t busy_poll_us = 0;          // --busy-poll: longest poll before blocking
  std::vector<std::string> warnings;       // for obsolete flags, logged at start-up
};

inline constexpr std::uint32_t kMaxJobSizeLimit = 1073741824;  // 1 GiB
// Smaller log files would hold a record or two each.
inline constexpr std::uint64_t kMinBinlogSize = 4096;
// Offsets in a log file fit 32 bits (Job::kMaxLogOffset).
inline constexpr std::uint64_t kMaxBinlogSize = UINT32_MAX;
// Polling longer than this is never worth a CPU's time.
inline constexpr std::uint32_t kMaxBusyPollMicros = 1000;

// What the process should do after parsing.
struct ParsedCommandLine {
  enum class Action { Run, Exit } action = Action::Run;
  int exit_code = 0;
  Options options;
};

// Parses argv; help, version and usage errors are printed here (to stdout
// or stderr) and come back as Action::Exit with the exit code to use.
ParsedCommandLine parse_command_line(int argc, const char* const* argv);

}  // namespace beanstalkd
