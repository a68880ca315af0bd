#pragma once

#include <cstdint>
#include <string_view>

#include "connection.h"
#include "reply.h"
#include "worker_context.h"

namespace bench {

// The behaviour of one connection during a phase: which commands it sends, and what it does with
// each reply. Replies arrive in the order the commands were sent, so a session matches them with
// a FIFO of what it has in flight. Sessions never block and never throw; a problem is reported
// through ctx.run.fail(), which stops the phase.
class Session {
 public:
  explicit Session(Connection& connection) : connection_(connection) {}
  virtual ~Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Sends the first commands.
  virtual void start(WorkerContext& ctx, std::int64_t now_ns) = 0;
  // Handles one reply.
  virtual void on_reply(WorkerContext& ctx, const Reply& reply, std::int64_t now_ns) = 0;
  // Called on every turn of the worker's loop for sessions that tick, so that they send when the
  // pacer (or the delivery window) allows even though no reply of theirs arrived.
  virtual void on_tick(WorkerContext& /*ctx*/, std::int64_t /*now_ns*/) {}
  virtual bool paced() const { return false; }
  // For paced sessions: whether the session would send now if the pacer allowed it. One that is
  // waiting for replies instead (its pipeline is full) must not make the worker wake up for the
  // pacer: with the pacer overdue, that wake-up would be a busy loop.
  virtual bool ready_to_send() const { return true; }
  // Whether on_tick is wanted: paced sessions, and producers waiting for deliveries elsewhere.
  virtual bool ticks() const { return paced(); }
  // A producer in an end-to-end scenario: the phase ends after every producer is done and all
  // its jobs were delivered.
  virtual bool is_producer() const { return false; }

  bool finished() const { return finished_; }
  Connection& connection() { return connection_; }

 protected:
  void finish() { finished_ = true; }
  // Stops the phase with a message naming the reply that did not fit.
  static void unexpected(WorkerContext& ctx, const Reply& reply, std::string_view wanted);

 private:
  Connection& connection_;
  bool finished_ = false;
};

}  // namespace bench
