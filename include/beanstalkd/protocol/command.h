// The commands of the beanstalk protocol, as the parser hands them to the
// server.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace beanstalkd::protocol {

enum class Op : std::uint8_t {
  Put,
  Peek,
  PeekReady,
  PeekDelayed,
  PeekBuried,
  Reserve,
  ReserveWithTimeout,
  ReserveJob,
  Delete,
  Release,
  Bury,
  Kick,
  KickJob,
  Touch,
  StatsJob,
  StatsTube,
  Stats,
  Use,
  Watch,
  Ignore,
  ListTubes,
  ListTubeUsed,
  ListTubesWatched,
  Quit,
  PauseTube,
};
inline constexpr std::size_t kOpCount = static_cast<std::size_t>(Op::PauseTube) + 1;

// The command's name on the wire ("put", "reserve-with-timeout", ...).
std::string_view op_name(Op op);

struct Command {
  Op op = Op::Quit;
  std::uint64_t id = 0;         // delete, release, bury, touch, peek, kick-job, ...
  std::uint32_t priority = 0;   // put, release, bury
  std::uint32_t delay = 0;      // put, release, pause-tube (seconds)
  std::uint32_t ttr = 0;        // put (seconds)
  std::uint32_t body_size = 0;  // put
  std::uint32_t count = 0;      // kick bound, reserve-with-timeout seconds
  std::string_view tube;        // use, watch, ignore, stats-tube, pause-tube
  // The line parsed far enough for the reference to count the command, but
  // is malformed after that: put with text after its four numbers (the size
  // limit is still checked first, so JOB_TOO_BIG wins), pause-tube with an
  // invalid tube name. The server counts it, then answers BAD_FORMAT.
  bool bad_after_count = false;
};

// Per-command counters, indexed by Op.
using CommandCounts = std::array<std::uint64_t, kOpCount>;

}  // namespace beanstalkd::protocol
