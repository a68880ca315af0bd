// CPU time a process has used, for tests that check a server is not
// spinning.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace beanstalkd::testing {

// User plus system time of `pid`, in clock ticks (fields 14 and 15 of
// /proc/PID/stat); 0 if the process is gone.
inline std::uint64_t cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string field;
  std::uint64_t ticks = 0;
  for (int i = 1; i <= 15 && in >> field; ++i)
    if (i == 14 || i == 15) ticks += std::stoull(field);
  return ticks;
}

}  // namespace beanstalkd::testing
