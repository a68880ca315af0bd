#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "session.h"

namespace bench {

// Empties the tubes the connection watches: keeps `depth` `reserve-with-timeout 0` in flight and
// deletes every job it gets. A TIMED_OUT means no job is ready any more (nobody puts during a
// drain), so the session stops reserving and finishes once its deletes are answered.
// A job counts as done when its DELETED arrives; the latency recorded is the reserve round trip.
class DrainSession : public Session {
 public:
  DrainSession(Connection& connection, std::size_t depth);

  void start(WorkerContext& ctx, std::int64_t now_ns) override;
  void on_reply(WorkerContext& ctx, const Reply& reply, std::int64_t now_ns) override;

 private:
  struct InFlight {
    std::int64_t sent_ns;
    bool is_reserve;  // false: a delete
  };

  void pump(WorkerContext& ctx, std::int64_t now_ns);

  const std::size_t depth_;
  std::deque<InFlight> in_flight_;
  std::size_t reserves_in_flight_ = 0;
  bool empty_ = false;
};

}  // namespace bench
