#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "histogram.h"
#include "run_state.h"
#include "session.h"

namespace bench {

struct PhaseLimits {
  std::int64_t job_limit = RunState::kNoLimit;
  std::int64_t stop_issuing_ns = RunState::kNoLimit;  // duration mode: no new jobs after this
  std::int64_t hard_deadline_ns = RunState::kNoLimit;
  double rate = 0;  // jobs per second over all paced sessions; 0: as fast as possible
  std::size_t threads = 1;
};

struct PhaseResult {
  std::int64_t completed = 0;  // jobs completed, as the sessions count them
  // From the start to the last completion: the tail spent only waiting for stragglers to notice
  // the end does not dilute the throughput.
  double seconds = 0;
  Histogram latency;

  double throughput() const { return seconds > 0 ? static_cast<double>(completed) / seconds : 0; }
};

// Runs the sessions until all have finished (or, in end-to-end scenarios, until everything
// produced was delivered), spread over `threads` workers: session i runs on worker i % threads.
// Throws BenchError when the phase fails.
PhaseResult run_phase(const std::vector<Session*>& sessions, const PhaseLimits& limits);

}  // namespace bench
