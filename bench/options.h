#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

namespace bench {

enum class OutputFormat : std::uint8_t { human, json, csv };

// Everything the command line sets, validated: scenarios can rely on the ranges.
struct Options {
  std::string server = "127.0.0.1:11300";
  std::string scenario = "put";
  std::size_t connections = 4;  // connections scenario: 10000 unless given
  std::size_t pipeline = 1;     // commands in flight per connection
  std::size_t body_size = 100;
  std::int64_t jobs = 100'000;  // memory scenario: 1,000,000 unless given
  double duration_s = 0;        // > 0: run this long instead of a job count
  std::size_t tubes = 1;        // spray: 100 unless given
  double rate = 0;              // jobs/s over all producers; deliver: 10,000 unless given
  std::size_t threads = 1;
  double timeout_s = 60;         // hard limit on the whole run
  std::int64_t server_pid = 0;   // 0: use the pid the server reports
  std::size_t watch_every = 10;  // connections scenario: every Nth connection watches a tube
  double hold_s = 1;             // connections scenario: pause before reading memory
  bool keep_jobs = false;        // put: leave the jobs in the server
  std::size_t stream_body = 0;   // cycle: one more client streams bodies this big (0: none)
  std::string tube_prefix = "bench";
  std::string label;  // free text copied to the JSON/CSV record
  OutputFormat format = OutputFormat::human;
  bool csv_header = true;
  bool quiet = false;
};

// Parses the command line. Returns the options, or the exit code to return when the program
// should stop here (after --help, or with a usage error already printed).
std::variant<Options, int> parse_options(int argc, char** argv);

}  // namespace bench
