// Black-box test harness: start a beanstalkd-compatible server binary on a
// loopback port (or a unix socket) chosen at run time, and talk to it with a
// small blocking client whose every read and write has a deadline, so that no
// test can hang.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bbt {

using Millis = std::chrono::milliseconds;
inline constexpr Millis kDefaultTimeout{5000};

// Path of the server under test: $BEANSTALKD_BIN, else /usr/bin/beanstalkd.
std::string server_binary();
// Path of the reference server: $BEANSTALKD_REFERENCE, else the CMake cache
// value BEANSTALKD_REFERENCE_BIN (default /usr/bin/beanstalkd).
std::string reference_binary();
bool is_executable(const std::string& path);
// True when both paths name the same file (after resolving symlinks).
bool same_file(const std::string& a, const std::string& b);
// True when the server under test is the reference binary itself: tests of
// the project's deliberate differences skip in that case.
bool testing_reference_itself();

// Printable form of raw bytes for failure messages ("\r\n" etc. escaped).
std::string visible(std::string_view bytes);

// Raised by Client and ServerProcess on timeouts, unexpected EOF, syscalls
// that fail and replies that do not have the expected shape.
class HarnessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Job {
  std::uint64_t id = 0;
  std::string body;
};

// Ordered key/value pairs of a flat YAML dictionary such as a stats body.
class YamlDict {
 public:
  YamlDict() = default;
  explicit YamlDict(std::vector<std::pair<std::string, std::string>> entries)
      : entries_(std::move(entries)) {}
  static YamlDict parse(std::string_view body);  // throws HarnessError

  bool has(std::string_view key) const;
  const std::string& get(std::string_view key) const;  // throws if missing
  std::uint64_t get_uint(std::string_view key) const;  // throws if not a number
  std::vector<std::string> keys() const;
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

// Items of a YAML list body ("---\n- a\n- b\n").
std::vector<std::string> parse_yaml_list(std::string_view body);
// Removes one pair of surrounding double quotes, if present.
std::string unquote(std::string_view value);

// The stats keys in the order the reference prints them.
const std::vector<std::string>& stats_keys();
const std::vector<std::string>& stats_job_keys();
const std::vector<std::string>& stats_tube_keys();

class Client {
 public:
  Client() = default;
  explicit Client(int fd);
  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  static Client connect_tcp(std::uint16_t port, Millis timeout = kDefaultTimeout);
  static Client connect_unix(const std::string& path, Millis timeout = kDefaultTimeout);
  // One attempt, no retries: nullopt if the connection is refused.
  static std::optional<Client> try_connect_tcp(std::uint16_t port);
  static std::optional<Client> try_connect_unix(const std::string& path);

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close();
  // Closes with a TCP reset (SO_LINGER 0) instead of an orderly FIN.
  void reset();
  void shutdown_write();

  // Sends all bytes or throws (peer closed, timeout).
  void send(std::string_view bytes, Millis timeout = kDefaultTimeout);
  // Like send but reports failure instead of throwing.
  bool try_send(std::string_view bytes, Millis timeout = kDefaultTimeout) noexcept;

  // One line without its CRLF. Throws on timeout or EOF.
  std::string read_line(Millis timeout = kDefaultTimeout);
  // Exactly n bytes. Throws on timeout or EOF.
  std::string read_exact(std::size_t n, Millis timeout = kDefaultTimeout);
  // Everything until the peer closes or `timeout` passes; *eof tells which.
  std::string read_until_eof(Millis timeout, bool* eof = nullptr);
  // True if a byte (or EOF) can be read within `wait`.
  bool readable(Millis wait);
  // True if the peer closes the connection within `timeout`. Data that
  // arrives first is appended to *data (or discarded).
  bool wait_closed(Millis timeout, std::string* data = nullptr);
  // Bytes received but not consumed yet.
  std::size_t buffered() const { return buf_.size(); }

  // Protocol helpers.
  // Sends `line` + CRLF and returns the reply line.
  std::string request(std::string_view line, Millis timeout = kDefaultTimeout);
  // Sends a put and returns the reply line.
  std::string put(std::string_view body, std::uint32_t pri = 0, std::uint32_t delay = 0,
                  std::uint32_t ttr = 60);
  // Sends a put and returns the id; throws unless the reply is INSERTED.
  std::uint64_t put_id(std::string_view body, std::uint32_t pri = 0, std::uint32_t delay = 0,
                       std::uint32_t ttr = 60);
  // Given a header such as "RESERVED 3 5" or "FOUND 3 5", reads the body.
  Job read_job(const std::string& header, std::string_view expected_word,
               Millis timeout = kDefaultTimeout);
  // Sends `line` (reserve, reserve-with-timeout N, peek...) and expects a job.
  Job request_job(std::string_view line, std::string_view expected_word,
                  Millis timeout = kDefaultTimeout);
  // Sends `line` and expects "OK <n>" plus a body; returns the body.
  std::string request_body(std::string_view line, Millis timeout = kDefaultTimeout);
  YamlDict stats();
  YamlDict stats_job(std::uint64_t id);
  YamlDict stats_tube(std::string_view tube);

 private:
  // Reads once into buf_; returns false on EOF. Throws on timeout.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buf_;
};

enum class Transport { Tcp, Unix };
const char* transport_name(Transport t);
// Names the transport in gtest's output.
void PrintTo(Transport t, std::ostream* os);

class ServerProcess {
 public:
  struct Options {
    std::string binary;
    Transport transport = Transport::Tcp;
    std::vector<std::string> args;  // extra command-line arguments
    // Unix transport only: listen on this path instead of a fresh one, and
    // leave whatever is there in place (for stale-socket tests).
    std::string unix_path;
    // NAME=VALUE entries added to the server's environment (LD_PRELOAD...).
    std::vector<std::string> env;
  };

  explicit ServerProcess(Options options);
  explicit ServerProcess(std::string binary, Transport transport = Transport::Tcp,
                         std::vector<std::string> args = {});
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess();  // SIGKILL if still running, reap, remove socket and log

  // The first call hands out the connection used to see that the server was
  // up, so the server's connection counters match the test's own connections.
  Client connect(Millis timeout = kDefaultTimeout);
  // A new connection, never the readiness probe.
  Client connect_new(Millis timeout = kDefaultTimeout);

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  const std::string& socket_path() const { return socket_path_; }
  Transport transport() const { return options_.transport; }
  const std::string& binary() const { return options_.binary; }
  std::string describe() const;
  // The server's stdout and stderr so far.
  std::string log() const;

  void send_signal(int sig);
  // Waits for the process to end; returns its wait status, or nullopt.
  std::optional<int> wait_exit(Millis timeout);
  bool running();

 private:
  void launch_once();
  bool wait_ready(Millis timeout);

  Options options_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::optional<int> exit_status_;
  std::uint16_t port_ = 0;
  std::string socket_path_;
  std::string log_path_;
  std::optional<Client> probe_;
};

// A scratch directory removed with everything in it at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/bbt-dir-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

// A free loopback TCP port (bound once to port 0, then released).
std::uint16_t pick_free_port();

}  // namespace bbt
