#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "reference_stats_keys.h"

extern char** environ;

namespace bbt {

namespace {

using Clock = std::chrono::steady_clock;

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : std::string(fallback);
}

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 60000 ? 60000 : static_cast<int>(left);
}

void set_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw HarnessError(errno_text("fcntl"));
  }
}

// Waits for `events` on fd; returns false on timeout.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{};
    p.fd = fd;
    p.events = events;
    const int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) throw HarnessError(errno_text("poll"));
  }
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  const auto* first = s.data();
  const auto* last = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return v;
}

std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    const std::size_t j = line.find(' ', i);
    if (j == std::string_view::npos) {
      out.emplace_back(line.substr(i));
      break;
    }
    out.emplace_back(line.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::atomic<unsigned> g_counter{0};

}  // namespace

std::string server_binary() {
  return env_or("BEANSTALKD_BIN", "/usr/bin/beanstalkd");
}
#ifndef BBT_DEFAULT_REFERENCE
#define BBT_DEFAULT_REFERENCE "/usr/bin/beanstalkd"
#endif

std::string reference_binary() {
  return env_or("BEANSTALKD_REFERENCE", BBT_DEFAULT_REFERENCE);
}

bool is_executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {};
  struct stat sb {};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool testing_reference_itself() {
  return same_file(server_binary(), reference_binary());
}

std::string visible(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (u < 0x20 || u >= 0x7f) {
          char tmp[8];
          std::snprintf(tmp, sizeof tmp, "\\x%02x", u);
          out += tmp;
        } else {
          out += c;
        }
    }
  }
  return out;
}

// ---------------------------------------------------------------- YAML

YamlDict YamlDict::parse(std::string_view body) {
  if (body.substr(0, 4) != "---\n") {
    throw HarnessError("YAML body does not start with ---: " + visible(body));
  }
  std::vector<std::pair<std::string, std::string>> entries;
  std::size_t pos = 4;
  while (pos < body.size()) {
    const std::size_t nl = body.find('\n', pos);
    if (nl == std::string_view::npos) {
      throw HarnessError("YAML line without newline: " + visible(body.substr(pos)));
    }
    const std::string_view line = body.substr(pos, nl - pos);
    const std::size_t colon = line.find(": ");
    if (colon == std::string_view::npos) {
      throw HarnessError("YAML line without ': ': " + visible(line));
    }
    entries.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
    pos = nl + 1;
  }
  return YamlDict(std::move(entries));
}

bool YamlDict::has(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return true;
  }
  return false;
}

const std::string& YamlDict::get(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return v;
  }
  throw HarnessError("YAML key missing: " + std::string(key));
}

std::uint64_t YamlDict::get_uint(std::string_view key) const {
  const auto v = parse_u64(get(key));
  if (!v) throw HarnessError("YAML value of " + std::string(key) + " is not a number: " + get(key));
  return *v;
}

std::vector<std::string> YamlDict::keys() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.first);
  return out;
}

std::vector<std::string> parse_yaml_list(std::string_view body) {
  if (body.substr(0, 4) != "---\n") {
    throw HarnessError("YAML list does not start with ---: " + visible(body));
  }
  std::vector<std::string> out;
  std::size_t pos = 4;
  while (pos < body.size()) {
    const std::size_t nl = body.find('\n', pos);
    if (nl == std::string_view::npos || body.substr(pos, 2) != "- ") {
      throw HarnessError("bad YAML list line in: " + visible(body));
    }
    out.push_back(unquote(body.substr(pos + 2, nl - pos - 2)));
    pos = nl + 1;
  }
  return out;
}

std::string unquote(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    return std::string(value.substr(1, value.size() - 2));
  }
  return std::string(value);
}

const std::vector<std::string>& stats_keys() {
  return beanstalkd::testing::kServerKeys;
}

const std::vector<std::string>& stats_job_keys() {
  return beanstalkd::testing::kJobKeys;
}

const std::vector<std::string>& stats_tube_keys() {
  return beanstalkd::testing::kTubeKeys;
}

// ---------------------------------------------------------------- Client

Client::Client(int fd) : fd_(fd) {}

Client::Client(Client&& other) noexcept : fd_(other.fd_), buf_(std::move(other.buf_)) {
  other.fd_ = -1;
  other.buf_.clear();
}

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    buf_ = std::move(other.buf_);
    other.fd_ = -1;
    other.buf_.clear();
  }
  return *this;
}

Client::~Client() {
  close();
}

void Client::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  buf_.clear();
}

void Client::reset() {
  if (fd_ >= 0) {
    const linger abort_on_close{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  }
  close();
}

void Client::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

std::optional<Client> Client::try_connect_tcp(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw HarnessError(errno_text("socket"));
  Client c(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == ECONNREFUSED || errno == EAGAIN || errno == ETIMEDOUT) return std::nullopt;
    throw HarnessError(errno_text("connect"));
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  set_nonblocking(fd);
  return c;
}

std::optional<Client> Client::try_connect_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw HarnessError(errno_text("socket"));
  Client c(fd);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) throw HarnessError("unix socket path too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == ECONNREFUSED || errno == ENOENT || errno == EAGAIN) return std::nullopt;
    throw HarnessError(errno_text("connect"));
  }
  set_nonblocking(fd);
  return c;
}

Client Client::connect_tcp(std::uint16_t port, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto c = try_connect_tcp(port)) return std::move(*c);
    if (Clock::now() >= deadline) {
      throw HarnessError("cannot connect to 127.0.0.1:" + std::to_string(port));
    }
    std::this_thread::sleep_for(Millis(5));
  }
}

Client Client::connect_unix(const std::string& path, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto c = try_connect_unix(path)) return std::move(*c);
    if (Clock::now() >= deadline) throw HarnessError("cannot connect to unix:" + path);
    std::this_thread::sleep_for(Millis(5));
  }
}

void Client::send(std::string_view bytes, Millis timeout) {
  if (fd_ < 0) throw HarnessError("send on closed client");
  const auto deadline = Clock::now() + timeout;
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_fd(fd_, POLLOUT, deadline)) {
        throw HarnessError("send timed out after " + std::to_string(off) + " of " +
                           std::to_string(bytes.size()) + " bytes");
      }
      continue;
    }
    throw HarnessError(errno_text("send"));
  }
}

bool Client::try_send(std::string_view bytes, Millis timeout) noexcept {
  try {
    send(bytes, timeout);
    return true;
  } catch (...) {
    return false;
  }
}

bool Client::fill(Clock::time_point deadline) {
  if (fd_ < 0) throw HarnessError("read on closed client");
  char tmp[65536];
  for (;;) {
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_fd(fd_, POLLIN, deadline)) throw HarnessError("read timed out");
      continue;
    }
    if (errno == ECONNRESET) return false;
    throw HarnessError(errno_text("recv"));
  }
}

std::string Client::read_line(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const std::size_t pos = buf_.find("\r\n");
    if (pos != std::string::npos) {
      std::string line = buf_.substr(0, pos);
      buf_.erase(0, pos + 2);
      return line;
    }
    bool ok = false;
    try {
      ok = fill(deadline);
    } catch (const HarnessError& e) {
      throw HarnessError(std::string(e.what()) + " waiting for a line; have \"" + visible(buf_) +
                         "\"");
    }
    if (!ok)
      throw HarnessError("connection closed waiting for a line; have \"" + visible(buf_) + "\"");
  }
}

std::string Client::read_exact(std::size_t n, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (buf_.size() < n) {
    bool ok = false;
    try {
      ok = fill(deadline);
    } catch (const HarnessError& e) {
      throw HarnessError(std::string(e.what()) + " waiting for " + std::to_string(n) + " bytes");
    }
    if (!ok) {
      throw HarnessError("connection closed after " + std::to_string(buf_.size()) + " of " +
                         std::to_string(n) + " bytes");
    }
  }
  std::string out = buf_.substr(0, n);
  buf_.erase(0, n);
  return out;
}

std::string Client::read_until_eof(Millis timeout, bool* eof) {
  const auto deadline = Clock::now() + timeout;
  bool closed = false;
  for (;;) {
    try {
      if (!fill(deadline)) {
        closed = true;
        break;
      }
    } catch (const HarnessError&) {
      break;  // timed out
    }
  }
  if (eof != nullptr) *eof = closed;
  std::string out = std::move(buf_);
  buf_.clear();
  return out;
}

bool Client::readable(Millis wait) {
  if (!buf_.empty()) return true;
  if (fd_ < 0) return false;
  return wait_fd(fd_, POLLIN, Clock::now() + wait);
}

bool Client::wait_closed(Millis timeout, std::string* data) {
  bool eof = false;
  std::string got = read_until_eof(timeout, &eof);
  if (data != nullptr) *data += got;
  return eof;
}

std::string Client::request(std::string_view line, Millis timeout) {
  std::string msg(line);
  msg += "\r\n";
  send(msg, timeout);
  return read_line(timeout);
}

std::string Client::put(std::string_view body, std::uint32_t pri, std::uint32_t delay,
                        std::uint32_t ttr) {
  std::string msg = "put " + std::to_string(pri) + " " + std::to_string(delay) + " " +
                    std::to_string(ttr) + " " + std::to_string(body.size()) + "\r\n";
  msg += body;
  msg += "\r\n";
  send(msg);
  return read_line();
}

std::uint64_t Client::put_id(std::string_view body, std::uint32_t pri, std::uint32_t delay,
                             std::uint32_t ttr) {
  const std::string reply = put(body, pri, delay, ttr);
  const auto words = split_words(reply);
  if (words.size() != 2 || words[0] != "INSERTED") {
    throw HarnessError("expected INSERTED <id>, got \"" + visible(reply) + "\"");
  }
  const auto id = parse_u64(words[1]);
  if (!id) throw HarnessError("bad id in \"" + reply + "\"");
  return *id;
}

Job Client::read_job(const std::string& header, std::string_view expected_word, Millis timeout) {
  const auto words = split_words(header);
  if (words.size() != 3 || words[0] != expected_word) {
    throw HarnessError("expected " + std::string(expected_word) + " <id> <bytes>, got \"" +
                       visible(header) + "\"");
  }
  const auto id = parse_u64(words[1]);
  const auto size = parse_u64(words[2]);
  if (!id || !size) throw HarnessError("bad job header \"" + visible(header) + "\"");
  Job job;
  job.id = *id;
  std::string data = read_exact(static_cast<std::size_t>(*size) + 2, timeout);
  if (data.substr(data.size() - 2) != "\r\n") {
    throw HarnessError("job body not followed by CRLF: \"" + visible(data) + "\"");
  }
  data.resize(data.size() - 2);
  job.body = std::move(data);
  return job;
}

Job Client::request_job(std::string_view line, std::string_view expected_word, Millis timeout) {
  const std::string header = request(line, timeout);
  return read_job(header, expected_word, timeout);
}

std::string Client::request_body(std::string_view line, Millis timeout) {
  const std::string header = request(line, timeout);
  const auto words = split_words(header);
  if (words.size() != 2 || words[0] != "OK") {
    throw HarnessError("expected OK <bytes> after \"" + std::string(line) + "\", got \"" +
                       visible(header) + "\"");
  }
  const auto size = parse_u64(words[1]);
  if (!size) throw HarnessError("bad OK header \"" + visible(header) + "\"");
  std::string data = read_exact(static_cast<std::size_t>(*size) + 2, timeout);
  if (data.substr(data.size() - 2) != "\r\n") {
    throw HarnessError("OK body not followed by CRLF: \"" + visible(data) + "\"");
  }
  data.resize(data.size() - 2);
  return data;
}

YamlDict Client::stats() {
  return YamlDict::parse(request_body("stats"));
}

YamlDict Client::stats_job(std::uint64_t id) {
  return YamlDict::parse(request_body("stats-job " + std::to_string(id)));
}

YamlDict Client::stats_tube(std::string_view tube) {
  return YamlDict::parse(request_body("stats-tube " + std::string(tube)));
}

// ---------------------------------------------------------------- ServerProcess

const char* transport_name(Transport t) {
  return t == Transport::Tcp ? "Tcp" : "Unix";
}

void PrintTo(Transport t, std::ostream* os) {
  *os << transport_name(t);
}

std::uint16_t pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw HarnessError(errno_text("socket"));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw HarnessError(errno_text("bind"));
  }
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw HarnessError(errno_text("getsockname"));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

ServerProcess::ServerProcess(std::string binary, Transport transport, std::vector<std::string> args)
    : ServerProcess(Options{std::move(binary), transport, std::move(args), {}, {}}) {}

ServerProcess::ServerProcess(Options options) : options_(std::move(options)) {
  if (options_.binary.empty()) options_.binary = server_binary();
  if (!is_executable(options_.binary)) {
    throw HarnessError("server binary not executable: " + options_.binary);
  }
  const unsigned n = g_counter.fetch_add(1);
  const std::string tag = std::to_string(::getpid()) + "-" + std::to_string(n);
  log_path_ = "/tmp/bbt-" + tag + ".log";
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    if (options_.transport == Transport::Unix && !options_.unix_path.empty()) {
      socket_path_ = options_.unix_path;
    } else if (options_.transport == Transport::Unix) {
      socket_path_ = "/tmp/bbt-" + tag + "-" + std::to_string(attempt) + ".sock";
      ::unlink(socket_path_.c_str());
    } else {
      port_ = pick_free_port();
    }
    launch_once();
    if (wait_ready(Millis(10000))) return;
    // Lost a race for the port, or the server failed: reap and maybe retry.
    const bool exited = !running();
    if (!exited) {
      ::kill(pid_, SIGKILL);
      wait_exit(Millis(5000));
    }
    if (!exited || attempt == kAttempts || !options_.unix_path.empty()) {
      const std::string msg = "server did not start: " + describe() + "\n" + log();
      ::unlink(log_path_.c_str());
      if (!socket_path_.empty() && options_.unix_path.empty()) ::unlink(socket_path_.c_str());
      throw HarnessError(msg);
    }
  }
}

void ServerProcess::launch_once() {
  std::vector<std::string> argv_s;
  argv_s.push_back(options_.binary);
  if (options_.transport == Transport::Unix) {
    argv_s.push_back("-l");
    argv_s.push_back("unix:" + socket_path_);
  } else {
    argv_s.push_back("-l");
    argv_s.push_back("127.0.0.1");
    argv_s.push_back("-p");
    argv_s.push_back(std::to_string(port_));
  }
  for (const auto& a : options_.args) argv_s.push_back(a);
  std::vector<char*> argv;
  argv.reserve(argv_s.size() + 1);
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);

  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (auto& e : options_.env) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all;
  sigfillset(&all);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int rc =
      ::posix_spawn(&pid, options_.binary.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    throw HarnessError(errno_text("posix_spawn"));
  }
  pid_ = pid;
  reaped_ = false;
  exit_status_.reset();
}

bool ServerProcess::wait_ready(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!running()) return false;
    std::optional<Client> c = options_.transport == Transport::Unix
                                  ? Client::try_connect_unix(socket_path_)
                                  : Client::try_connect_tcp(port_);
    if (c) {
      // Make sure it is our process that answered (not another test's
      // server that won the race for the same port).
      std::this_thread::sleep_for(Millis(1));
      if (!running()) return false;
      probe_ = std::move(c);
      return true;
    }
    std::this_thread::sleep_for(Millis(5));
  }
  return false;
}

ServerProcess::~ServerProcess() {
  probe_.reset();
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  struct stat st {};
  if (!socket_path_.empty() && ::lstat(socket_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    ::unlink(socket_path_.c_str());
  }
  const char* keep = std::getenv("BBT_KEEP_LOGS");
  if (keep == nullptr || *keep == '\0') ::unlink(log_path_.c_str());
}

Client ServerProcess::connect(Millis timeout) {
  if (probe_) {
    Client c = std::move(*probe_);
    probe_.reset();
    return c;
  }
  return connect_new(timeout);
}

Client ServerProcess::connect_new(Millis timeout) {
  if (options_.transport == Transport::Unix) return Client::connect_unix(socket_path_, timeout);
  return Client::connect_tcp(port_, timeout);
}

std::string ServerProcess::describe() const {
  std::string s = options_.binary;
  if (options_.transport == Transport::Unix) {
    s += " -l unix:" + socket_path_;
  } else {
    s += " -l 127.0.0.1 -p " + std::to_string(port_);
  }
  for (const auto& a : options_.args) s += " " + a;
  return s;
}

std::string ServerProcess::log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ServerProcess::send_signal(int sig) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

bool ServerProcess::running() {
  if (pid_ <= 0 || reaped_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    exit_status_ = status;
    return false;
  }
  return true;
}

std::optional<int> ServerProcess::wait_exit(Millis timeout) {
  if (pid_ <= 0) return std::nullopt;
  if (reaped_) return exit_status_;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      exit_status_ = status;
      return status;
    }
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(Millis(5));
  }
}

}  // namespace bbt
