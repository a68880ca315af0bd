#pragma once

#include <cstdint>
#include <vector>

#include "run_state.h"
#include "session.h"
#include "worker_context.h"

struct epoll_event;

namespace bench {

// One event loop (epoll) driving a set of sessions on one thread: it reads replies, hands them to
// their session in order, and sends whatever the sessions queued, one send per connection per
// loop turn.
class Worker {
 public:
  // pace_rate: operations per second shared by this worker's paced sessions (0: unlimited).
  Worker(RunState& run, double pace_rate);

  void add(Session& session);

  // Runs until every session has finished or the run has stopped (all delivered, a failure, the
  // hard deadline). Failures are recorded in the run state.
  void run(std::int64_t start_ns);

  const WorkerContext& context() const { return context_; }

 private:
  struct Peer {
    Session* session;
    bool watching_output = false;
    bool counted_finished = false;
  };

  void serve(int epoll_fd, Peer& peer, std::uint32_t events);
  // Sends queued output and keeps the epoll interest and the active count up to date.
  void settle(int epoll_fd, Peer& peer);
  int wait(int epoll_fd, epoll_event* events, int capacity, std::int64_t timeout_ns);

  RunState& run_;
  double pace_rate_;
  WorkerContext context_;
  std::vector<Peer> peers_;
  std::vector<std::size_t> tickers_;
  // Some tickers wait for deliveries, which may happen on another worker's thread.
  bool tickers_wait_for_others_ = false;
  std::size_t active_ = 0;
  bool have_pwait2_ = true;
};

}  // namespace bench
