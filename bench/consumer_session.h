#pragma once

#include <cstdint>

#include "session.h"

namespace bench {

// A worker as real applications write it: block in `reserve`, and on a job send `delete` and the
// next `reserve` together. The latency recorded is from the send time stamped into the body by
// the producer to the moment the job arrives. A consumer never finishes on its own; the phase
// ends when every claimed job has been delivered (RunState::job_delivered).
class ConsumerSession : public Session {
 public:
  using Session::Session;

  void start(WorkerContext& ctx, std::int64_t now_ns) override;
  void on_reply(WorkerContext& ctx, const Reply& reply, std::int64_t now_ns) override;

 private:
  // Replies still expected for sent deletes; the reserve reply comes after them.
  std::int64_t deletes_in_flight_ = 0;
};

}  // namespace bench
