#include "worker.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <string>

#include "bench_error.h"
#include "clock.h"

namespace bench {
namespace {

// Upper bound on one wait, so that a worker notices a stop or failure raised by another thread,
// and the hard deadline, soon enough.
constexpr std::int64_t kMaxWaitNs = 20 * kNanosPerMilli;
constexpr int kEventBatch = 256;
// How often a producer waiting for deliveries looks again when nothing wakes its loop: the
// deliveries may be counted by consumers on another thread.
constexpr std::int64_t kPollForOthersNs = 200'000;

class EpollFd {
 public:
  EpollFd() : fd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (fd_ < 0) throw BenchError(errno_message("epoll_create1"));
  }
  ~EpollFd() { ::close(fd_); }
  EpollFd(const EpollFd&) = delete;
  EpollFd& operator=(const EpollFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void set_interest(int epoll_fd, int op, int fd, std::size_t index, bool want_output) {
  epoll_event event{};
  event.events = EPOLLIN | (want_output ? static_cast<std::uint32_t>(EPOLLOUT) : 0U);
  event.data.u64 = index;
  if (::epoll_ctl(epoll_fd, op, fd, &event) != 0) throw BenchError(errno_message("epoll_ctl"));
}

}  // namespace

Worker::Worker(RunState& run, double pace_rate) : run_(run), pace_rate_(pace_rate), context_(run) {}

void Worker::add(Session& session) {
  if (session.ticks()) {
    tickers_.push_back(peers_.size());
    if (!session.paced()) tickers_wait_for_others_ = true;
  }
  peers_.push_back(Peer{&session});
}

int Worker::wait(int epoll_fd, epoll_event* list, int capacity, std::int64_t timeout_ns) {
  // epoll_pwait2 takes a nanosecond timeout, which lets a paced producer send on time instead of
  // in millisecond bursts; kernels before 5.11 lack it.
  if (have_pwait2_) {
    const timespec timeout{static_cast<time_t>(timeout_ns / kNanosPerSecond),
                           static_cast<long>(timeout_ns % kNanosPerSecond)};
    const int n = ::epoll_pwait2(epoll_fd, list, capacity, &timeout, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    have_pwait2_ = false;
  }
  const auto timeout_ms = static_cast<int>((timeout_ns + kNanosPerMilli - 1) / kNanosPerMilli);
  return ::epoll_wait(epoll_fd, list, capacity, timeout_ms);
}

void Worker::run(std::int64_t start_ns) {
  context_.pacer = Pacer(pace_rate_, start_ns);
  const EpollFd epoll;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    set_interest(epoll.get(), EPOLL_CTL_ADD, peers_[i].session->connection().fd(), i, false);
  }
  active_ = peers_.size();
  for (Peer& peer : peers_) {
    peer.session->start(context_, now_ns());
    settle(epoll.get(), peer);
  }

  std::array<epoll_event, kEventBatch> events{};
  while (active_ > 0 && !run_.stopped()) {
    const std::int64_t now = now_ns();
    if (now >= run_.hard_deadline_ns()) {
      run_.fail("hard timeout reached with " + std::to_string(active_) +
                " connections still busy (is the server stuck?)");
      break;
    }
    bool waiting_for_pacer = false;
    for (const std::size_t index : tickers_) {
      Peer& peer = peers_[index];
      if (peer.session->finished()) continue;
      peer.session->on_tick(context_, now);
      settle(epoll.get(), peer);
      if (peer.session->paced() && peer.session->ready_to_send()) waiting_for_pacer = true;
    }

    std::int64_t timeout = std::min(kMaxWaitNs, run_.hard_deadline_ns() - now);
    if (waiting_for_pacer && context_.pacer.limited()) {
      timeout = std::min(timeout, context_.pacer.next_due_ns() - now);
    }
    if (tickers_wait_for_others_) timeout = std::min(timeout, kPollForOthersNs);
    const int ready =
        wait(epoll.get(), events.data(), kEventBatch, std::max<std::int64_t>(0, timeout));
    if (ready < 0) {
      if (errno == EINTR) continue;
      run_.fail(errno_message("epoll_wait"));
      break;
    }
    for (int i = 0; i < ready && !run_.stopped(); ++i) {
      const epoll_event& event = events[static_cast<std::size_t>(i)];
      serve(epoll.get(), peers_[event.data.u64], event.events);
    }
  }
}

void Worker::serve(int epoll_fd, Peer& peer, std::uint32_t events) {
  Connection& connection = peer.session->connection();
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
    const Connection::Io io = connection.receive();
    if (io == Connection::Io::error) {
      run_.fail(errno_message("recv"));
      return;
    }
    const std::int64_t now = now_ns();
    Reply reply;
    for (;;) {
      const ParseStatus status = connection.next_reply(reply);
      if (status == ParseStatus::incomplete) break;
      if (status == ParseStatus::malformed) {
        run_.fail("malformed reply from the server");
        return;
      }
      if (peer.session->finished()) {
        run_.fail("reply after the session finished: '" + std::string(reply.line) + "'");
        return;
      }
      peer.session->on_reply(context_, reply, now);
      if (run_.stopped()) return;
    }
    if (io == Connection::Io::closed) {
      run_.fail("the server closed a connection");
      return;
    }
  }
  settle(epoll_fd, peer);
}

void Worker::settle(int epoll_fd, Peer& peer) {
  Connection& connection = peer.session->connection();
  if (connection.has_output() && connection.flush() == Connection::Io::error) {
    run_.fail(errno_message("send"));
    return;
  }
  // Ask for writability only while output is stuck, so idle connections cost no wake-ups.
  const bool want_output = connection.has_output();
  if (want_output != peer.watching_output) {
    const auto index = static_cast<std::size_t>(&peer - peers_.data());
    set_interest(epoll_fd, EPOLL_CTL_MOD, connection.fd(), index, want_output);
    peer.watching_output = want_output;
  }
  if (peer.session->finished() && !peer.counted_finished) {
    peer.counted_finished = true;
    --active_;
  }
}

}  // namespace bench
