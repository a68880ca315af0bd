#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "connection.h"
#include "endpoint.h"

namespace bench {

// A control connection to the server, separate from the load, for reading `stats` and the
// server's memory use. Memory comes from /proc/PID/status, so it works only for a server on this
// machine: PID is --server-pid, or else the `pid` the server reports in its stats.
class ServerProbe {
 public:
  // Connects, and finds the server's pid unless one is given (given_pid > 0).
  ServerProbe(const Endpoint& endpoint, std::int64_t given_pid, std::int64_t deadline_ns);

  // The server's `stats`, key to value.
  std::map<std::string, std::string, std::less<>> stats(std::int64_t deadline_ns);
  // One numeric stats value; throws BenchError when it is missing.
  std::int64_t stat(std::string_view key, std::int64_t deadline_ns);

  // Polls `stats` until current-connections reaches at least `count`, so that memory is read
  // only after the server has taken every connection in. Throws BenchError at the deadline.
  void wait_for_connections(std::int64_t count, std::int64_t deadline_ns);

  // 0 when unknown.
  std::int64_t pid() const { return pid_; }
  // Resident set size (VmRSS) and its peak (VmHWM) in KiB; -1 when unknown.
  std::int64_t rss_kib() const { return read_status_field("VmRSS:"); }
  std::int64_t peak_rss_kib() const { return read_status_field("VmHWM:"); }

 private:
  std::int64_t read_status_field(std::string_view field) const;

  std::unique_ptr<Connection> control_;
  std::int64_t pid_ = 0;
};

}  // namespace bench
