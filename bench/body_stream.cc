#include "body_stream.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "bench_error.h"
#include "clock.h"

namespace bench {
namespace {

constexpr std::size_t kReadChunk = 1 << 20;

// The socket is non-blocking: wait with poll(), never past the run's hard deadline.
void wait_for(int fd, short events, std::int64_t deadline_ns) {
  const std::int64_t left_ms = (deadline_ns - now_ns()) / 1'000'000;
  if (left_ms <= 0) throw BenchError("hard timeout reached");
  pollfd p{fd, events, 0};
  if (::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left_ms, 1000))) < 0 &&
      errno != EINTR) {
    throw BenchError(errno_message("poll"));
  }
}

}  // namespace

BodyStream::BodyStream(const Endpoint& endpoint, std::string tube, std::size_t body_size,
                       std::int64_t deadline_ns)
    : endpoint_(endpoint),
      tube_(std::move(tube)),
      body_size_(body_size),
      deadline_ns_(deadline_ns) {}

BodyStream::~BodyStream() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void BodyStream::start() {
  fd_ = endpoint_.connect(deadline_ns_);
  const std::string setup = "use " + tube_ + "\r\nwatch " + tube_ + "\r\nignore default\r\n";
  send_all(setup.data(), setup.size());
  for (const char* expected : {"USING ", "WATCHING ", "WATCHING "}) {
    const std::string line = read_line();
    if (line.rfind(expected, 0) != 0) throw BenchError("body stream: set-up got " + line);
  }
  thread_ = std::thread([this] { loop(); });
}

void BodyStream::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (!error_.empty()) throw BenchError("body stream: " + error_);
}

void BodyStream::loop() {
  const std::string body(body_size_, 'x');
  const std::int64_t started = now_ns();
  try {
    while (!stop_) {
      one_cycle(body);
      ++jobs_;
    }
  } catch (const BenchError& error) {
    error_ = error.what();
  }
  seconds_ = ns_to_seconds(now_ns() - started);
}

void BodyStream::one_cycle(const std::string& body) {
  const std::string put = "put 0 0 600 " + std::to_string(body_size_) + "\r\n";
  send_all(put.data(), put.size());
  send_all(body.data(), body.size());
  send_all("\r\n", 2);
  std::string line = read_line();
  if (line == "JOB_TOO_BIG") {
    throw BenchError("the server refused a " + std::to_string(body_size_) +
                     "-byte body (JOB_TOO_BIG): raise its -z");
  }
  if (line.rfind("INSERTED ", 0) != 0) throw BenchError("put got " + line);
  const std::string id = line.substr(9);
  send_all("reserve-with-timeout 10\r\n", 25);
  line = read_line();
  if (line != "RESERVED " + id + " " + std::to_string(body_size_)) {
    throw BenchError("reserve got " + line);
  }
  skip(body_size_ + 2);
  const std::string remove = "delete " + id + "\r\n";
  send_all(remove.data(), remove.size());
  line = read_line();
  if (line != "DELETED") throw BenchError("delete got " + line);
}

void BodyStream::send_all(const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      wait_for(fd_, POLLOUT, deadline_ns_);
    } else {
      throw BenchError(errno_message("send"));
    }
  }
}

// Waits for and receives at least one byte, at most `capacity`.
std::size_t BodyStream::receive(char* buffer, std::size_t capacity) {
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer, capacity, 0);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) throw BenchError("the server closed the connection");
    if (errno != EAGAIN && errno != EINTR) throw BenchError(errno_message("recv"));
    wait_for(fd_, POLLIN, deadline_ns_);
  }
}

std::string BodyStream::read_line() {
  for (;;) {
    if (const std::size_t end = input_.find("\r\n"); end != std::string::npos) {
      std::string line = input_.substr(0, end);
      input_.erase(0, end + 2);
      return line;
    }
    char buffer[4096];
    input_.append(buffer, receive(buffer, sizeof buffer));
  }
}

// Consumes `size` bytes without keeping them.
void BodyStream::skip(std::size_t size) {
  const std::size_t buffered = std::min(size, input_.size());
  input_.erase(0, buffered);
  size -= buffered;
  std::string chunk(kReadChunk, '\0');
  while (size > 0) size -= receive(chunk.data(), std::min(size, chunk.size()));
}

}  // namespace bench
