#include "beanstalkd/server/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace beanstalkd::server {

namespace {

constexpr int kBacklog = 1024;
constexpr std::string_view kUnixPrefix = "unix:";

std::string errno_text() {
  return std::strerror(errno);
}

bool set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

std::string describe(const sockaddr* sa) {
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  socklen_t len = sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV))
    return "?";
  return sa->sa_family == AF_INET6 ? "[" + std::string(host) + "]:" + serv
                                   : std::string(host) + ":" + serv;
}

// Whether a connect to the unix socket at `addr` succeeds. A socket file
// nobody listens on refuses the connection.
bool someone_listens_on(const sockaddr_un& addr) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool connected = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return connected;
}

ListenSocket open_unix(const std::string& path, std::string& error) {
  ListenSocket out;
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    error = "unix socket path is empty or too long: " + path;
    return out;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    // Replace a stale socket left by an earlier run; refuse anything else,
    // and a socket a running server still listens on (the reference takes
    // it over silently, leaving that server unreachable).
    if (!S_ISSOCK(st.st_mode)) {
      error = path + " exists and is not a socket; refusing to replace it";
      return out;
    }
    if (someone_listens_on(addr)) {
      error = "another server is listening on unix:" + path + "; refusing to take its socket";
      return out;
    }
    if (unlink(path.c_str()) != 0) {
      error = "cannot remove stale socket " + path + ": " + errno_text();
      return out;
    }
    spdlog::info("removed the stale socket {} left by an earlier run", path);
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = "socket: " + errno_text();
    return out;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, kBacklog) != 0) {
    error = "cannot listen on unix:" + path + ": " + errno_text();
    close(fd);
    return out;
  }
  out.fd = fd;
  out.description = "unix:" + path;
  out.unix_path = path;
  return out;
}

}  // namespace

ListenSocket open_listen_socket(const std::string& address, unsigned port, std::string& error) {
  if (address.rfind(kUnixPrefix, 0) == 0)
    return open_unix(address.substr(kUnixPrefix.size()), error);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  int rc =
      getaddrinfo(address.empty() ? nullptr : address.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    error = "cannot resolve listen address '" + address + "': " + gai_strerror(rc);
    return {};
  }
  ListenSocket out;
  error.clear();
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      error = "socket: " + errno_text();
      continue;
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, kBacklog) != 0) {
      error = "cannot listen on " + describe(ai->ai_addr) + ": " + errno_text();
      close(fd);
      continue;
    }
    out.fd = fd;
    // The bound address, so that port 0 is logged as the port the system chose.
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof bound;
    const bool known = getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) == 0;
    out.description = describe(known ? reinterpret_cast<sockaddr*>(&bound) : ai->ai_addr);
    break;
  }
  freeaddrinfo(found);
  return out;
}

ListenSocket inherited_listen_socket(std::string& error) {
  ListenSocket out;
  int n = sd_listen_fds(1);  // 1: unset LISTEN_* so children do not inherit them
  if (n <= 0) return out;
  int fd = SD_LISTEN_FDS_START;
  if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
    error = "the socket passed by systemd is not a listening stream socket";
    return out;
  }
  if (!set_nonblocking(fd)) {
    error = "cannot make the inherited socket non-blocking: " + errno_text();
    return out;
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  out.fd = fd;
  out.description = ss.ss_family == AF_UNIX
                        ? "systemd unix socket"
                        : "systemd " + describe(reinterpret_cast<sockaddr*>(&ss));
  if (n > 1) error = "systemd passed " + std::to_string(n) + " sockets; using the first";
  return out;
}

}  // namespace beanstalkd::server
