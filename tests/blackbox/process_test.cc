// The server as a process: command-line flags, systemd socket activation and
// readiness notification, and running out of file descriptors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "free_port.h"
#include "harness.h"
#include "process_cpu.h"

namespace bbt {
namespace {

using namespace std::chrono_literals;
using beanstalkd::testing::cpu_ticks;
using beanstalkd::testing::free_loopback_port;
std::uint16_t free_port() {
  return free_loopback_port();
}

// A child process running the server; stderr goes to a file. `prepare` runs
// in the child before exec (environment, descriptors, limits).
class Spawned {
 public:
  Spawned(const std::vector<std::string>& args, const std::function<void()>& prepare = {}) {
    char tmpl[] = "/tmp/process-test-stderr-XXXXXX";
    int log = mkstemp(tmpl);
    log_path_ = tmpl;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(log, 2);
      if (prepare) prepare();
      std::string bin = server_binary();
      std::vector<char*> argv{const_cast<char*>(bin.c_str())};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    close(log);
  }
  ~Spawned() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    unlink(log_path_.c_str());
  }
  pid_t pid() const { return pid_; }
  // Exit status, waiting at most `timeout`; nullopt if still running.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
  }
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string log_path_;
};

// Connects to `port` (retrying while the server starts) and asks a command.
std::optional<std::string> ask(std::uint16_t port, const std::string& command) {
  for (int i = 0; i < 100; ++i) {
    if (auto c = Client::try_connect_tcp(port)) {
      c->send(command);
      return c->read_line();
    }
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

TEST(Flags, ShortFlagsCombineAndTakeAttachedValues) {
  const std::uint16_t port = free_port();
  Spawned server({"-VV", "-l127.0.0.1", "-p" + std::to_string(port), "-z100", "-c", "-n"});
  ASSERT_EQ(ask(port, "list-tube-used\r\n"), "USING default");
  Client c = Client::connect_tcp(port);
  c.send("put 0 0 1 101\r\n" + std::string(101, 'x') + "\r\nput 0 0 1 100\r\n" +
         std::string(100, 'x') + "\r\n");
  EXPECT_EQ(c.read_line(), "JOB_TOO_BIG");
  EXPECT_EQ(c.read_line(), "INSERTED 1");
  kill(server.pid(), SIGTERM);
  EXPECT_EQ(server.wait_exit(5s), 0);
  const std::string log = server.log();
  EXPECT_NE(log.find("-c is obsolete and ignored"), std::string::npos) << log;
  EXPECT_NE(log.find("-n is obsolete and ignored"), std::string::npos) << log;
  // -VV logs every command and reply.
  EXPECT_NE(log.find("<- list-tube-used"), std::string::npos) << log;
  EXPECT_NE(log.find("-> USING default"), std::string::npos) << log;
}

TEST(Flags, MaxJobSizeIsClampedToOneGibibyte) {
  const std::uint16_t port = free_port();
  Spawned server({"-l", "127.0.0.1", "-p", std::to_string(port), "-z", "5000000000"});
  ASSERT_TRUE(ask(port, "list-tube-used\r\n"));
  Client c = Client::connect_tcp(port);
  c.send("stats\r\n");
  std::string head = c.read_line();
  YamlDict stats = YamlDict::parse(c.read_exact(std::stoul(head.substr(3))));
  EXPECT_EQ(stats.get_uint("max-job-size"), 1073741824u);
}

// --busy-poll changes only how the loop waits: replies, timers and
// blocking reserves must behave exactly as without it.
TEST(Flags, BusyPollKeepsRepliesAndTimersExact) {
  const std::uint16_t port = free_port();
  Spawned server({"-l", "127.0.0.1", "-p", std::to_string(port), "--busy-poll", "200"});
  ASSERT_TRUE(ask(port, "list-tube-used\r\n"));
  Client c = Client::connect_tcp(port);
  Client waiter = Client::connect_tcp(port);
  for (int i = 1; i <= 300; ++i) {
    ASSERT_EQ(c.request("put 0 0 10 1\r\nx"), "INSERTED " + std::to_string(i));
    ASSERT_EQ(c.request("reserve"), "RESERVED " + std::to_string(i) + " 1");
    ASSERT_EQ(c.read_line(), "x");
    ASSERT_EQ(c.request("delete " + std::to_string(i)), "DELETED");
  }
  // Timers fire while the loop polls: a delayed job reaches a blocked
  // reserve, and a reserve with a timeout times out.
  waiter.send("reserve\r\n");
  ASSERT_EQ(c.request("put 0 1 10 1\r\ny"), "INSERTED 301");
  EXPECT_EQ(waiter.read_line(5s), "RESERVED 301 1");
  EXPECT_EQ(waiter.read_line(), "y");
  EXPECT_EQ(c.request("reserve-with-timeout 1", 5s), "TIMED_OUT");
  kill(server.pid(), SIGTERM);
  EXPECT_EQ(server.wait_exit(5s), 0);
}

// Starts the server with `args` and expects a usage error: exit status 1,
// with `message` in what it printed.
void expect_usage_error(const std::vector<std::string>& args, const std::string& message) {
  Spawned run(args);
  auto status = run.wait_exit(5s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 1);
  EXPECT_NE(run.log().find(message), std::string::npos) << run.log();
}

TEST(Flags, BusyPollAboveOneMillisecondIsAUsageError) {
  expect_usage_error({"--busy-poll", "1001"}, "--busy-poll");
}

TEST(Flags, PortOutOfRangeIsAUsageErrorNamingTheRange) {
  expect_usage_error({"-p", "99999"},
                     "-p/--port: 99999 is out of range; expected a number from 0 to 65535");
}

// A negative number is refused, never wrapped around to a huge one.
TEST(Flags, NegativeNumbersAreUsageErrorsNamingTheFlag) {
  expect_usage_error({"-z", "-1"}, "-z/--max-job-size: -1 is negative");
  expect_usage_error({"-s", "-5"}, "-s/--binlog-size: -5 is negative");
  expect_usage_error({"-f", "-1"}, "-f/--fsync-ms: -1 is negative");
  expect_usage_error({"-p", "41010x"}, "-p/--port: \"41010x\" is not a number");
}

// As in the reference, the last of a repeated flag wins, so a service file
// can add "-l ADDR -p PORT" to a command line that already has them.
TEST(Flags, TheLastOfARepeatedFlagWins) {
  const std::uint16_t first = free_port();
  const std::uint16_t last = free_port();
  Spawned server({"-l", "0.0.0.0", "-p", std::to_string(first), "-z", "10", "-l", "127.0.0.1", "-p",
                  std::to_string(last), "-z", "100"});
  ASSERT_EQ(ask(last, "list-tube-used\r\n"), "USING default") << server.log();
  EXPECT_FALSE(Client::try_connect_tcp(first).has_value());
  Client c = Client::connect_tcp(last);
  EXPECT_EQ(c.request("put 0 0 1 100\r\n" + std::string(100, 'x')), "INSERTED 1");
}

// The start-up log names the process, like the reference's "pid N".
TEST(Logging, StartUpLogsThePid) {
  const std::uint16_t port = free_port();
  Spawned server({"-l", "127.0.0.1", "-p", std::to_string(port)});
  ASSERT_EQ(ask(port, "list-tube-used\r\n"), "USING default");
  EXPECT_NE(server.log().find("info: starting, pid " + std::to_string(server.pid()) + "\n"),
            std::string::npos)
      << server.log();
}

// With -V each connection's arrival and departure is logged, as the
// reference logs "accept" and "close".
TEST(Logging, VerboseLogsConnectionsComingAndGoing) {
  const std::uint16_t port = free_port();
  Spawned server({"-V", "-l", "127.0.0.1", "-p", std::to_string(port)});
  ASSERT_EQ(ask(port, "list-tube-used\r\n"), "USING default");
  auto logged = [&](const std::string& text) {
    for (int i = 0; i < 100; ++i) {
      if (server.log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  EXPECT_TRUE(logged(": connected\n")) << server.log();
  EXPECT_TRUE(logged(": closed\n")) << server.log();
}

// With standard error on the journal (JOURNAL_STREAM names it), each line
// carries its sd-daemon priority and no time stamp; with the variable
// inherited but standard error elsewhere, lines are as on a terminal.
TEST(Logging, JournalLinesCarryTheirPriorityOnlyWhenStderrIsTheJournal) {
  const auto journal_stream = [] {
    struct stat st {};
    fstat(2, &st);
    setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(),
           1);
  };
  Spawned failing(
      {"-l", "127.0.0.1", "-p", std::to_string(free_port()), "-u", "no-such-user-for-beanstalkd"},
      journal_stream);
  ASSERT_EQ(failing.wait_exit(5s), 1);
  EXPECT_EQ(failing.log(), "<6>info: starting, pid " + std::to_string(failing.pid()) +
                               "\n<3>error: no such user: no-such-user-for-beanstalkd\n");
  Spawned elsewhere(
      {"-l", "127.0.0.1", "-p", std::to_string(free_port()), "-u", "no-such-user-for-beanstalkd"},
      [] { setenv("JOURNAL_STREAM", "8:1", 1); });
  ASSERT_EQ(elsewhere.wait_exit(5s), 1);
  const std::string log = elsewhere.log();
  EXPECT_EQ(log.find('<'), std::string::npos) << log;
  EXPECT_TRUE(std::regex_search(
      log, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} error: no such user)")))
      << log;
}

TEST(Flags, PortZeroLogsThePortTheSystemChose) {
  Spawned run({"-l", "127.0.0.1", "-p", "0"});
  const std::string prefix = "listening on 127.0.0.1:";
  std::size_t at = std::string::npos;
  for (int i = 0; i < 500 && at == std::string::npos; ++i) {
    at = run.log().find(prefix);
    if (at == std::string::npos) std::this_thread::sleep_for(10ms);
  }
  ASSERT_NE(at, std::string::npos) << run.log();
  const unsigned long port = std::stoul(run.log().substr(at + prefix.size()));
  ASSERT_GT(port, 0u);
  ASSERT_LE(port, 65535u);
  Client c = Client::connect_tcp(static_cast<std::uint16_t>(port));
  EXPECT_EQ(c.request("list-tube-used"), "USING default");
}

// A socket a running server listens on is not stale: a second server on the
// same path must not take it over (the reference does, silently, leaving the
// first one unreachable).
TEST(Flags, UnixSocketOfARunningServerIsNotTakenOver) {
  if (testing_reference_itself()) {
    GTEST_SKIP() << "deliberate difference: the reference takes the socket over";
  }
  ServerProcess first(server_binary(), Transport::Unix);
  Spawned second({"-l", "unix:" + first.socket_path()});
  const auto status = second.wait_exit(5s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 1);
  EXPECT_NE(second.log().find("another server is listening on unix:" + first.socket_path()),
            std::string::npos)
      << second.log();
  Client c = first.connect();
  EXPECT_EQ(c.request("list-tube-used"), "USING default");
}

TEST(Flags, VersionPrintsAndExitsZero) {
  Spawned run({"-v"});
  EXPECT_EQ(run.wait_exit(5s), 0);
}

TEST(Flags, UnknownFlagPrintsUsageAndExitsNonZero) {
  Spawned run({"-x"});
  auto status = run.wait_exit(5s);
  ASSERT_TRUE(status);
  EXPECT_NE(*status, 0);
  EXPECT_NE(run.log().find("Usage"), std::string::npos) << run.log();
}

TEST(Flags, ListenOnAHostNameAndIPv6Loopback) {
  const std::uint16_t port = free_port();
  Spawned by_name({"-l", "localhost", "-p", std::to_string(port)});
  EXPECT_EQ(ask(port, "list-tube-used\r\n"), "USING default");
  const std::uint16_t port6 = free_port();
  Spawned v6({"-l", "::1", "-p", std::to_string(port6)});
  // Connect over IPv6 explicitly.
  std::optional<std::string> reply;
  for (int i = 0; i < 100 && !reply; ++i) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port6);
    a.sin6_addr = in6addr_loopback;
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      Client c(fd);
      c.send("list-tube-used\r\n");
      reply = c.read_line();
    } else {
      close(fd);
      std::this_thread::sleep_for(20ms);
    }
  }
  EXPECT_EQ(reply, "USING default");
}

TEST(Systemd, UsesTheInheritedSocketAndIgnoresListenFlags) {
  const std::uint16_t port = free_port();
  const std::uint16_t ignored = free_port();
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  Spawned server({"-l", "127.0.0.1", "-p", std::to_string(ignored)}, [listener] {
    dup2(listener, 3);
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
  });
  close(listener);
  EXPECT_EQ(ask(port, "list-tube-used\r\n"), "USING default");
  EXPECT_FALSE(Client::try_connect_tcp(ignored).has_value());
  EXPECT_NE(server.log().find("socket passed by systemd"), std::string::npos) << server.log();
}

TEST(Systemd, NotifiesReadinessAndStopping) {
  char dir[] = "/tmp/notify-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/notify";
  int sock = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{5, 0};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::uint16_t port = free_port();
  Spawned server({"-l", "127.0.0.1", "-p", std::to_string(port)},
                 [&path] { setenv("NOTIFY_SOCKET", path.c_str(), 1); });
  char buf[512];
  ssize_t n = recv(sock, buf, sizeof buf - 1, 0);
  ASSERT_GT(n, 0);
  std::string message(buf, static_cast<std::size_t>(n));
  EXPECT_NE(message.find("READY=1"), std::string::npos) << message;
  // Ready means serving.
  EXPECT_EQ(ask(port, "list-tube-used\r\n"), "USING default");
  kill(server.pid(), SIGTERM);
  n = recv(sock, buf, sizeof buf - 1, 0);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(buf, static_cast<std::size_t>(n)).find("STOPPING=1"), std::string::npos);
  EXPECT_EQ(server.wait_exit(5s), 0);
  close(sock);
  unlink(path.c_str());
  rmdir(dir);
}

TEST(Descriptors, RunningOutOfDescriptorsNeitherSpinsNorStopsServing) {
  const std::uint16_t port = free_port();
  Spawned server({"-l", "127.0.0.1", "-p", std::to_string(port)}, [] {
    rlimit lim{48, 48};
    setrlimit(RLIMIT_NOFILE, &lim);
  });
  ASSERT_EQ(ask(port, "list-tube-used\r\n"), "USING default");
  // More connections than the server has descriptors for.
  std::vector<Client> clients;
  for (int i = 0; i < 80; ++i) {
    if (auto c = Client::try_connect_tcp(port)) clients.push_back(std::move(*c));
  }
  std::this_thread::sleep_for(300ms);
  // Out of descriptors, it must not burn the CPU retrying accept.
  const std::uint64_t before = cpu_ticks(server.pid());
  std::this_thread::sleep_for(1s);
  const std::uint64_t used = cpu_ticks(server.pid()) - before;
  EXPECT_LT(used, 30u) << "server used " << used << " ticks in one second";
  // It says so once, with the limit to raise, not at every retry (about a
  // dozen by now).
  const auto occurrences = [](const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(occurrences(server.log(), "cannot accept connections"), 1u) << server.log();
  EXPECT_NE(server.log().find("open-file limit 48"), std::string::npos) << server.log();
  // Free descriptors: waiting clients get served, and new ones too.
  clients.erase(clients.begin(), clients.begin() + 60);
  EXPECT_EQ(ask(port, "list-tube-used\r\n"), "USING default") << server.log();
  clients.back().send("list-tube-used\r\n");
  EXPECT_EQ(clients.back().read_line(std::chrono::milliseconds(3000)), "USING default");
  EXPECT_NE(server.log().find("accepting connections again after"), std::string::npos)
      << server.log();
}

// Each log file keeps a descriptor open; a log of many files under a low
// open-file limit is said to crowd out connections, at the start, with the
// limit to raise. Without the limit, no such line.
TEST(Descriptors, ALogOfManyFilesUnderALowLimitIsWarnedAbout) {
  char dir[] = "/tmp/process-test-wal-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::vector<std::string> log_flags = {"-b", dir, "-s", "4096"};
  const std::string warning = "more than a quarter of the open-file limit";
  {
    const std::uint16_t port = free_port();
    std::vector<std::string> args = {"-l", "127.0.0.1", "-p", std::to_string(port)};
    args.insert(args.end(), log_flags.begin(), log_flags.end());
    Spawned server(args);
    ASSERT_EQ(ask(port, "list-tube-used\r\n"), "USING default") << server.log();
    Client c = Client::connect_tcp(port);
    const std::string body(3000, 'j');  // one job a file
    for (int i = 0; i < 60; ++i) {
      c.send("put 0 0 60 3000\r\n" + body + "\r\n");
      ASSERT_EQ(c.read_line().rfind("INSERTED ", 0), 0u);
    }
    kill(server.pid(), SIGTERM);
    EXPECT_EQ(server.wait_exit(5s), 0);
    EXPECT_EQ(server.log().find(warning), std::string::npos) << server.log();
  }
  const std::uint16_t port = free_port();
  std::vector<std::string> args = {"-l", "127.0.0.1", "-p", std::to_string(port)};
  args.insert(args.end(), log_flags.begin(), log_flags.end());
  Spawned server(args, [] {
    rlimit lim{200, 200};
    setrlimit(RLIMIT_NOFILE, &lim);
  });
  ASSERT_EQ(ask(port, "stats-job 60\r\n").value_or("").rfind("OK ", 0), 0u) << server.log();
  EXPECT_NE(server.log().find(warning + " 200"), std::string::npos) << server.log();
  kill(server.pid(), SIGTERM);
  EXPECT_EQ(server.wait_exit(5s), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bbt
