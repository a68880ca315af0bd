// Opening the listening socket: TCP (IPv4, IPv6 or a host name), a unix
// socket ("unix:PATH"), or the socket systemd passed in (LISTEN_FDS).
#pragma once

#include <sys/time.h>

#include <cerrno>
#include <string>

namespace beanstalkd::server {

struct ListenSocket {
  int fd = -1;
  std::string description;  // for logs: "127.0.0.1:11300", "unix:/run/b.sock", ...
  std::string unix_path;    // non-empty for a unix socket we created (removed on exit)
};

// Returns fd -1 and sets `error` on failure.
ListenSocket open_listen_socket(const std::string& address, unsigned port, std::string& error);

// accept() failed because the process or the system is out of descriptors
// or memory: retrying at once would fail again while the listener stays
// readable, so a listener rests for kAcceptBackoff instead of spinning.
inline bool out_of_resources(int accept_error) {
  return accept_error == EMFILE || accept_error == ENFILE || accept_error == ENOBUFS ||
         accept_error == ENOMEM;
}
inline constexpr timeval kAcceptBackoff{0, 100000};

// The first socket systemd handed this process, if any (LISTEN_PID/LISTEN_FDS).
// Returns fd -1 when not socket-activated; sets `error` if activated with a
// socket that is not listening.
ListenSocket inherited_listen_socket(std::string& error);

}  // namespace beanstalkd::server
