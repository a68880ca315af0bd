#pragma once

#include <cstdint>

#include "histogram.h"
#include "pacer.h"
#include "run_state.h"

namespace bench {

// What one worker thread gives its sessions: the shared run state, and its own pacer, latency
// histogram and completion count (merged across workers after the phase).
struct WorkerContext {
  explicit WorkerContext(RunState& shared_run) : run(shared_run) {}

  void completed_one(std::int64_t now_ns) {
    ++completed;
    last_completion_ns = now_ns;
  }

  RunState& run;
  Pacer pacer;
  Histogram latency;
  std::int64_t completed = 0;
  std::int64_t last_completion_ns = 0;
};

}  // namespace bench
