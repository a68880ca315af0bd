#include "endpoint.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "bench_error.h"
#include "clock.h"

namespace bench {
namespace {

constexpr std::string_view kUnixPrefix = "unix:";
constexpr std::string_view kDefaultPort = "11300";

// Waits until a non-blocking connect() finishes; returns its errno (0 on success).
int wait_for_connect(int fd, std::int64_t deadline_ns) {
  for (;;) {
    const std::int64_t left_ms = (deadline_ns - now_ns()) / kNanosPerMilli;
    if (left_ms <= 0) return ETIMEDOUT;
    pollfd pfd{fd, POLLOUT, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::min<std::int64_t>(left_ms, 1000)));
    if (ready < 0 && errno != EINTR) return errno;
    if (ready > 0) break;
  }
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

}  // namespace

Endpoint Endpoint::parse(std::string_view text) {
  Endpoint endpoint;
  endpoint.text_ = std::string(text);

  if (text.starts_with(kUnixPrefix)) {
    const std::string_view path = text.substr(kUnixPrefix.size());
    sockaddr_un address{};
    if (path.empty() || path.size() >= sizeof address.sun_path) {
      throw BenchError("bad unix socket path in '" + endpoint.text_ + "'");
    }
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, path.size());
    std::memcpy(&endpoint.address_, &address, sizeof address);
    endpoint.address_length_ = sizeof address;
    return endpoint;
  }

  // Split at the last colon, unless it sits inside a bracketed IPv6 address.
  std::string host(text);
  std::string port(kDefaultPort);
  const std::size_t colon = text.rfind(':');
  const std::size_t bracket = text.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = std::string(text.substr(0, colon));
    port = std::string(text.substr(colon + 1));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || port.empty()) throw BenchError("bad server address '" + endpoint.text_ + "'");

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int status = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (status != 0 || found == nullptr) {
    throw BenchError("cannot resolve '" + endpoint.text_ + "': " + ::gai_strerror(status));
  }
  std::memcpy(&endpoint.address_, found->ai_addr, found->ai_addrlen);
  endpoint.address_length_ = found->ai_addrlen;
  ::freeaddrinfo(found);
  return endpoint;
}

int Endpoint::connect(std::int64_t deadline_ns) const {
  const bool is_unix = address_.ss_family == AF_UNIX;
  for (;;) {
    const int fd = ::socket(address_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw BenchError(errno_message("socket"));
    int error = 0;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address_), address_length_) != 0) {
      error = errno;
      if (error == EINPROGRESS) error = wait_for_connect(fd, deadline_ns);
    }
    if (error == 0) {
      if (!is_unix) {
        // Replies to pipelined commands must not wait for Nagle's algorithm.
        const int on = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      }
      return fd;
    }
    ::close(fd);
    // A unix socket with a full accept queue refuses at once instead of queueing the attempt.
    if (is_unix && error == EAGAIN && now_ns() < deadline_ns) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    errno = error;
    throw BenchError(errno_message(("connect to " + text_).c_str()));
  }
}

}  // namespace bench
