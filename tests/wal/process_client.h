// A tiny blocking beanstalk client and helpers to run a server binary, for
// tests that kill and restart real server processes.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "free_port.h"

namespace beanstalkd::testing {

inline int free_port() {
  return free_loopback_port();
}

using namespace std::chrono_literals;

// A blocking client with a receive timeout; any error makes ok() false.
class Client {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int on = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { close(fd_); }
  bool ok() const { return ok_; }
  bool send(const std::string& s) {
    if (ok_ && ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(s.size()))
      ok_ = false;
    return ok_;
  }
  std::string line() {
    std::string out;
    while (ok_) {
      std::size_t at = buf_.find("\r\n");
      if (at != std::string::npos) {
        out = buf_.substr(0, at);
        buf_.erase(0, at + 2);
        return out;
      }
      fill();
    }
    return out;
  }
  // Whether a reply is waiting, or arrives within `ms` milliseconds.
  bool readable(int ms) {
    if (!buf_.empty()) return true;
    pollfd p{fd_, POLLIN, 0};
    return ok_ && poll(&p, 1, ms) == 1;
  }
  std::string bytes(std::size_t n) {
    while (ok_ && buf_.size() < n) fill();
    std::string out = buf_.substr(0, std::min(n, buf_.size()));
    buf_.erase(0, out.size());
    return out;
  }
  // Everything until the peer closes (or the receive timeout).
  std::string until_closed() {
    while (ok_) fill();
    std::string out;
    out.swap(buf_);
    return out;
  }

 private:
  void fill() {
    char tmp[4096];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      ok_ = false;
      return;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
  }
  int fd_;
  bool ok_;
  std::string buf_;
};

// Waits (bounded) until a server on `port` answers a command.
inline bool wait_until_serving(int port) {
  for (int i = 0; i < 200; ++i) {
    Client probe(port);
    if (probe.ok() && probe.send("list-tube-used\r\n") && !probe.line().empty()) return true;
    std::this_thread::sleep_for(25ms);
  }
  return false;
}

// Starts `bin` with `args` and waits until it serves on `port`; -1 on failure.
// With `log_path`, the server's standard error goes to that file.
inline pid_t start_process(const std::string& bin, const std::vector<std::string>& args, int port,
                           const std::string& log_path = "") {
  pid_t pid = fork();
  if (pid == 0) {
    if (!log_path.empty()) {
      int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log >= 0) dup2(log, STDERR_FILENO);
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(bin.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  if (wait_until_serving(port)) return pid;
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

// A whole file (a server's log), or "" if it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The value of `key` in a stats answer, or "" if absent.
inline std::string stat(Client& c, const std::string& key) {
  c.send("stats\r\n");
  const std::string header = c.line();
  if (header.rfind("OK ", 0) != 0) return "";
  const std::string body = c.bytes(std::stoul(header.substr(3)) + 2);
  const std::string prefix = "\n" + key + ": ";
  const auto at = body.find(prefix);
  if (at == std::string::npos) return "";
  const auto start = at + prefix.size();
  return body.substr(start, body.find('\n', start) - start);
}

inline void kill_process(pid_t pid, int sig = SIGKILL) {
  kill(pid, sig);
  waitpid(pid, nullptr, 0);
}

// Kills the process at scope exit unless stop() ran: a failed assertion must
// not leave a server holding the test runner's output open.
class ProcessGuard {
 public:
  explicit ProcessGuard(pid_t pid) : pid_(pid) {}
  ProcessGuard(const ProcessGuard&) = delete;
  ProcessGuard& operator=(const ProcessGuard&) = delete;
  ~ProcessGuard() {
    if (pid_ > 0) kill_process(pid_);
  }
  void stop(int sig) {
    if (pid_ > 0) kill_process(pid_, sig);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

// With -f 0 unless `sync_ms` says otherwise; bodies up to 4 MiB.
inline pid_t start_server(const std::string& bin, int port, const std::string& dir,
                          const std::string& sync_ms = "0", const std::string& log_path = "") {
  return start_process(
      bin,
      {"-l", "127.0.0.1", "-p", std::to_string(port), "-b", dir, "-f", sync_ms, "-z", "4194304"},
      port, log_path);
}

}  // namespace beanstalkd::testing
