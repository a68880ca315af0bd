#pragma once

#include <cstdint>
#include <string>

#include "session.h"

namespace bench {

// One command in flight: put, then reserve, then delete what was reserved, then again. The
// latency of a cycle runs from sending the put to receiving DELETED. The connection must use and
// watch the same tube (set up before the phase). With several connections on one tube a reserve
// may get another connection's job; that is fine, since every connection puts before it reserves
// there is always a job for it.
class CycleSession : public Session {
 public:
  CycleSession(Connection& connection, std::size_t body_size, bool paced);

  void start(WorkerContext& ctx, std::int64_t now_ns) override;
  void on_reply(WorkerContext& ctx, const Reply& reply, std::int64_t now_ns) override;
  void on_tick(WorkerContext& ctx, std::int64_t now_ns) override;
  bool paced() const override { return paced_; }
  bool ready_to_send() const override { return step_ == Step::idle; }

 private:
  enum class Step : std::uint8_t { idle, put, reserve, remove };

  // Starts the next cycle if the budget and the pacer allow; finishes when the budget is spent.
  void begin_cycle(WorkerContext& ctx, std::int64_t now_ns);

  const std::string put_command_;
  const bool paced_;
  Step step_ = Step::idle;
  std::int64_t cycle_start_ns_ = 0;
};

}  // namespace bench
