#pragma once

#include <chrono>
#include <cstdint>

namespace bench {

// Monotonic time in nanoseconds. Every timestamp in the benchmark comes from this one clock, so
// times taken on different threads, and those embedded in job bodies, compare directly.
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
constexpr std::int64_t kNanosPerMilli = 1'000'000;

inline std::int64_t seconds_to_ns(double seconds) {
  return static_cast<std::int64_t>(seconds * static_cast<double>(kNanosPerSecond));
}

inline double ns_to_seconds(std::int64_t ns) {
  return static_cast<double>(ns) / static_cast<double>(kNanosPerSecond);
}

}  // namespace bench
