#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "session.h"

namespace bench {

// How a PutSession behaves; one plan is shared by all sessions of a phase.
struct PutPlan {
  // Tubes to spread puts over, each put preceded by `use`. Empty: put into the tube the
  // connection already uses (set up before the phase).
  std::vector<std::string> rotate_tubes;
  std::size_t depth = 1;  // puts in flight
  std::size_t body_size = 100;
  bool paced = false;  // obey the worker's pacer (--rate)
  // End-to-end producers: at most this many jobs put and not yet delivered, over all producers
  // (0: no limit). It keeps the tubes from filling up when producers outrun the consumers, so that
  // the latency measures the server rather than a growing queue.
  std::int64_t window = 0;
  bool record_ids = false;  // keep the ids, to delete the jobs afterwards
  // True: an INSERTED completes a job, and its round trip is the latency (put, memory).
  // False: the session is the producer of an end-to-end scenario; it stamps the send time into
  // each body and consumers complete the jobs (deliver, spray).
  bool completes_jobs = true;
};

// Keeps `depth` puts in flight until the phase's job budget or duration is used up.
class PutSession : public Session {
 public:
  // first_tube: where this session starts in plan.rotate_tubes, so that producers do not all hit
  // the same tube at the same time.
  PutSession(Connection& connection, const PutPlan& plan, std::size_t first_tube = 0);

  void start(WorkerContext& ctx, std::int64_t now_ns) override;
  void on_reply(WorkerContext& ctx, const Reply& reply, std::int64_t now_ns) override;
  void on_tick(WorkerContext& ctx, std::int64_t now_ns) override { pump(ctx, now_ns); }
  bool paced() const override { return plan_.paced; }
  bool ready_to_send() const override { return held_by_pacer_; }
  bool ticks() const override { return plan_.paced || plan_.window > 0; }
  bool is_producer() const override { return !plan_.completes_jobs; }

  const std::vector<std::uint64_t>& ids() const { return ids_; }

 private:
  struct InFlight {
    std::int64_t sent_ns;
    bool is_put;  // false: a `use`
  };

  // Sends as many puts as depth, budget and pacer allow; finishes when there is nothing left.
  void pump(WorkerContext& ctx, std::int64_t now_ns);

  const PutPlan& plan_;
  const std::string put_command_;
  const std::size_t body_offset_;
  std::size_t next_tube_;
  std::deque<InFlight> in_flight_;
  std::size_t puts_in_flight_ = 0;
  bool budget_used_ = false;
  bool held_by_pacer_ = false;  // the last pump stopped only because the pacer said wait
  std::vector<std::uint64_t> ids_;
};

}  // namespace bench
