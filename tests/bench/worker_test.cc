// The worker loop of beanstalkd-bench, driven over a socket pair whose far end plays a server
// that never answers: what a paced producer sends, and that waiting costs no CPU.

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <ctime>
#include <string>

#include <gtest/gtest.h>

#include "clock.h"
#include "connection.h"
#include "put_session.h"
#include "run_state.h"
#include "worker.h"

namespace bench {
namespace {

std::int64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

// The far end of the pair: counts the puts the worker sent.
class SilentServer {
 public:
  SilentServer() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) std::abort();
    client_fd_ = fds[0];
    server_fd_ = fds[1];
  }
  ~SilentServer() { ::close(server_fd_); }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  int take_client_fd() { return client_fd_; }

  std::size_t puts_received() {
    std::array<char, 65536> buffer{};
    for (;;) {
      const ssize_t n = ::read(server_fd_, buffer.data(), buffer.size());
      if (n <= 0) break;
      received_.append(buffer.data(), static_cast<std::size_t>(n));
    }
    std::size_t count = 0;
    for (std::size_t at = received_.find("put "); at != std::string::npos;
         at = received_.find("put ", at + 1)) {
      ++count;
    }
    return count;
  }

 private:
  int client_fd_;
  int server_fd_;
  std::string received_;
};

struct RunOutcome {
  std::size_t puts;
  std::int64_t wall_ns;
  std::int64_t cpu_ns;
  std::string failure;
};

// Runs one paced PutSession until the run's hard deadline (nothing ever answers it).
RunOutcome run_paced_producer(double rate, std::size_t depth, std::int64_t run_for_ns) {
  SilentServer server;
  Connection connection(server.take_client_fd());
  PutPlan plan;
  plan.depth = depth;
  plan.paced = true;
  PutSession session(connection, plan);

  const std::int64_t start = now_ns();
  RunState run(RunState::kNoLimit, RunState::kNoLimit, start + run_for_ns);
  Worker worker(run, rate);
  worker.add(session);
  const std::int64_t cpu_before = thread_cpu_ns();
  worker.run(start);
  RunOutcome outcome;
  outcome.cpu_ns = thread_cpu_ns() - cpu_before;
  outcome.wall_ns = now_ns() - start;
  outcome.puts = server.puts_received();
  outcome.failure = run.failure().value_or("");
  return outcome;
}

TEST(BenchWorkerTest, PacedProducerWithFullPipelineSleepsInsteadOfSpinning) {
  // A million puts a second are always due, but one is in flight and never answered: the worker
  // must wait for the reply, not poll the overdue pacer in a busy loop.
  const RunOutcome outcome = run_paced_producer(1e6, 1, 300 * kNanosPerMilli);
  EXPECT_NE(outcome.failure.find("hard timeout"), std::string::npos) << outcome.failure;
  EXPECT_EQ(outcome.puts, 1U);
  // Spinning costs about the whole wall time; sleeping next to nothing.
  EXPECT_LT(outcome.cpu_ns, outcome.wall_ns / 4)
      << "cpu " << outcome.cpu_ns << " ns over " << outcome.wall_ns << " ns";
}

TEST(BenchWorkerTest, PacedProducerSendsAtItsRateWhileItHasRoom) {
  // 1,000 puts a second for 300 ms with room for all of them: about 300 puts, sent as they come
  // due (the pacer is open loop, so a late wake-up sends the overdue ones at once).
  const RunOutcome outcome = run_paced_producer(1000, 10000, 300 * kNanosPerMilli);
  const double expected = static_cast<double>(outcome.wall_ns) / 1e6;
  // Loose below: a thread kept off the CPU just before the deadline stops without sending what
  // fell due meanwhile.
  EXPECT_GE(static_cast<double>(outcome.puts), expected * 0.5);
  EXPECT_LE(static_cast<double>(outcome.puts), expected + 2);
  EXPECT_LT(outcome.cpu_ns, outcome.wall_ns / 4)
      << "cpu " << outcome.cpu_ns << " ns over " << outcome.wall_ns << " ns";
}

}  // namespace
}  // namespace bench
