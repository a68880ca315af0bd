#include "connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bench_error.h"
#include "clock.h"

namespace bench {
namespace {

// Large enough that one read takes a whole pipeline of replies; the buffer grows further only
// for a single reply bigger than this.
constexpr std::size_t kInitialInput = 64 * 1024;
// Below this much free space the buffer is compacted (or grown) before reading.
constexpr std::size_t kMinimumRead = 16 * 1024;

}  // namespace

Connection::Connection(int fd) : fd_(fd) {}

Connection::~Connection() {
  ::close(fd_);
}

Connection::Io Connection::flush() {
  while (sent_ < output_.size()) {
    const ssize_t n = ::send(fd_, output_.data() + sent_, output_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::ok;
      return Io::error;
    }
    sent_ += static_cast<std::size_t>(n);
  }
  output_.clear();
  sent_ = 0;
  return Io::ok;
}

Connection::Io Connection::receive() {
  if (input_begin_ == input_end_) input_begin_ = input_end_ = 0;
  if (input_capacity_ - input_end_ < kMinimumRead) {
    const std::size_t pending = input_end_ - input_begin_;
    const std::size_t capacity = std::max(kInitialInput, pending * 2 + kMinimumRead);
    if (capacity > input_capacity_) {
      auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
      if (pending > 0) std::memcpy(bigger.get(), input_.get() + input_begin_, pending);
      input_ = std::move(bigger);
      input_capacity_ = capacity;
    } else {
      std::memmove(input_.get(), input_.get() + input_begin_, pending);
    }
    input_begin_ = 0;
    input_end_ = pending;
  }
  for (;;) {
    const ssize_t n = ::recv(fd_, input_.get() + input_end_, input_capacity_ - input_end_, 0);
    if (n > 0) {
      input_end_ += static_cast<std::size_t>(n);
      return Io::ok;
    }
    if (n == 0) return Io::closed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::ok;
    return Io::error;
  }
}

ParseStatus Connection::next_reply(Reply& reply) {
  if (input_begin_ == input_end_) return ParseStatus::incomplete;
  std::size_t consumed = 0;
  const ParseStatus status = parse_reply(
      std::string_view(input_.get() + input_begin_, input_end_ - input_begin_), reply, consumed);
  if (status == ParseStatus::complete) input_begin_ += consumed;
  return status;
}

void Connection::wait_for(short events, std::int64_t deadline_ns) {
  for (;;) {
    const std::int64_t left_ms = (deadline_ns - now_ns() + kNanosPerMilli - 1) / kNanosPerMilli;
    if (left_ms <= 0) throw BenchError("timed out waiting for the server");
    pollfd pfd{fd_, events, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::min<std::int64_t>(left_ms, 1000)));
    if (ready > 0) return;
    if (ready < 0 && errno != EINTR) throw BenchError(errno_message("poll"));
  }
}

void Connection::flush_until(std::int64_t deadline_ns) {
  for (;;) {
    if (flush() != Io::ok) throw BenchError(errno_message("send"));
    if (!has_output()) return;
    wait_for(POLLOUT, deadline_ns);
  }
}

Reply Connection::wait_reply(std::int64_t deadline_ns) {
  flush_until(deadline_ns);
  Reply reply;
  for (;;) {
    switch (next_reply(reply)) {
      case ParseStatus::complete:
        return reply;
      case ParseStatus::malformed:
        throw BenchError("malformed reply from the server");
      case ParseStatus::incomplete:
        break;
    }
    wait_for(POLLIN, deadline_ns);
    const Io io = receive();
    if (io == Io::closed) throw BenchError("the server closed the connection");
    if (io == Io::error) throw BenchError(errno_message("recv"));
  }
}

Reply Connection::request(std::string_view command, ReplyKind expected, std::int64_t deadline_ns) {
  output_.append(command);
  output_.append("\r\n");
  const Reply reply = wait_reply(deadline_ns);
  if (reply.kind != expected) {
    throw BenchError("'" + std::string(command) + "' got unexpected reply '" +
                     std::string(reply.line) + "'");
  }
  return reply;
}

}  // namespace bench
