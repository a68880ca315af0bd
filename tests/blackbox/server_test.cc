// Black-box tests of the server as a process: timing (delays, TTR,
// reserve-with-timeout), command-line flags, signals, many connections, and
// the project's deliberate differences from the reference server.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace bbt {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Polls `pred` every 5 ms for at most `limit`.
template <typename Pred>
bool eventually(Pred pred, Millis limit = 2000ms) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// ------------------------------------------------------------ timing

TEST(Timing, DelayedJobBecomesReady) {
  ServerProcess s(server_binary());
  Client c = s.connect();
  ASSERT_EQ(c.put("later", 0, 1), "INSERTED 1");
  EXPECT_EQ(c.stats_job(1).get("state"), "delayed");
  EXPECT_EQ(c.request("peek-ready"), "NOT_FOUND");
  EXPECT_EQ(c.request("reserve-with-timeout 0"), "TIMED_OUT");
  const auto t0 = Clock::now();
  // A waiting reserve is woken when the delay ends.
  const auto job = c.request_job("reserve-with-timeout 3", "RESERVED", 4000ms);
  const auto waited = Clock::now() - t0;
  EXPECT_EQ(job.body, "later");
  EXPECT_GE(waited, 700ms);
  EXPECT_LT(waited, 2500ms);
}

TEST(Timing, ReserveWithTimeoutOneTimesOut) {
  ServerProcess s(server_binary());
  Client c = s.connect();
  const auto t0 = Clock::now();
  EXPECT_EQ(c.request("reserve-with-timeout 1", 4000ms), "TIMED_OUT");
  const auto waited = Clock::now() - t0;
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 2500ms);
  EXPECT_EQ(c.stats().get("current-waiting"), "0");
}

TEST(Timing, ReserveWithTimeoutOneGetsJobPutMeanwhile) {
  ServerProcess s(server_binary());
  Client c = s.connect();
  Client p = s.connect();
  c.send("reserve-with-timeout 1\r\n");
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(p.put("x"), "INSERTED 1");
  const auto job = c.read_job(c.read_line(1000ms), "RESERVED");
  EXPECT_EQ(job.id, 1u);
}

TEST(Timing, TtrExpiryAndDeadlineSoon) {
  ServerProcess s(server_binary());
  Client c = s.connect();
  ASSERT_EQ(c.put("job", 0, 0, 1), "INSERTED 1");
  ASSERT_EQ(c.request_job("reserve", "RESERVED").id, 1u);
  // The whole TTR of 1 s is inside the safety margin.
  EXPECT_EQ(c.request("reserve"), "DEADLINE_SOON");
  EXPECT_EQ(c.request("reserve-with-timeout 0"), "DEADLINE_SOON");
  EXPECT_EQ(c.stats_job(1).get("state"), "reserved");  // still reserved
  // After the TTR the job is ready again, with a timeout counted.
  std::string state;
  const bool ready = eventually(
      [&] {
        state = c.stats_job(1).get("state");
        return state == "ready";
      },
      3000ms);
  EXPECT_TRUE(ready) << state;
  const auto sj = c.stats_job(1);
  EXPECT_EQ(sj.get("timeouts"), "1");
  EXPECT_EQ(sj.get("reserves"), "1");
  EXPECT_EQ(c.stats().get("job-timeouts"), "1");
  EXPECT_EQ(c.request("delete 1"), "DELETED");  // no longer ours, but ready
}

TEST(Timing, WaitingClientGetsDeadlineSoon) {
  ServerProcess s(server_binary());
  Client c = s.connect();
  ASSERT_EQ(c.put("job", 0, 0, 2), "INSERTED 1");
  ASSERT_EQ(c.request_job("reserve", "RESERVED").id, 1u);
  const auto t0 = Clock::now();
  EXPECT_EQ(c.request("reserve", 4000ms), "DEADLINE_SOON");
  const auto waited = Clock::now() - t0;
  EXPECT_GE(waited, 700ms);
  EXPECT_LT(waited, 1900ms);
  EXPECT_EQ(c.stats_job(1).get("state"), "reserved");
}

TEST(Timing, TouchRestartsTtr) {
  ServerProcess s(server_binary());
  Client c = s.connect();
  ASSERT_EQ(c.put("job", 0, 0, 3), "INSERTED 1");
  ASSERT_EQ(c.request_job("reserve", "RESERVED").id, 1u);
  std::this_thread::sleep_for(1100ms);
  const auto before = c.stats_job(1).get_uint("time-left");
  EXPECT_LE(before, 1u);
  ASSERT_EQ(c.request("touch 1"), "TOUCHED");
  const auto after = c.stats_job(1).get_uint("time-left");
  EXPECT_GE(after, 2u);
  EXPECT_LE(after, 3u);
  EXPECT_EQ(c.stats().get("cmd-touch"), "1");
}

// ------------------------------------------------------------ flags

TEST(Flags, MaxJobSize) {
  ServerProcess s(server_binary(), Transport::Tcp, {"-z", "10"});
  Client c = s.connect();
  EXPECT_EQ(c.stats().get("max-job-size"), "10");
  EXPECT_EQ(c.put("0123456789"), "INSERTED 1");
  EXPECT_EQ(c.put("0123456789A"), "JOB_TOO_BIG");
  EXPECT_EQ(c.request("list-tube-used"), "USING default");
  EXPECT_EQ(c.put(""), "INSERTED 2");
}

// Large bodies move through the server in slices of a bounded size per
// turn (so that they do not stall other connections). Every byte must
// arrive in order, in both directions, while another client is served.
TEST(Load, LargeBodiesInterleaveWithOtherClients) {
  ServerProcess s(server_binary(), Transport::Tcp, {"-z", "20000000"});
  Client big = s.connect();
  Client other = s.connect();
  std::string body(16'000'000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + (i * 7919) % 26);
  // Send the put in pieces, with the other client's commands in between.
  big.send("put 0 0 60 " + std::to_string(body.size()) + "\r\n");
  const std::size_t piece = 1'000'000;
  for (std::size_t at = 0, n = 1; at < body.size(); at += piece, ++n) {
    big.send(std::string_view(body).substr(at, piece), 10s);
    // The big job took id 1 when its command line arrived.
    ASSERT_EQ(other.put("small"), "INSERTED " + std::to_string(n + 1));
  }
  big.send("\r\n");
  EXPECT_EQ(big.read_line(10s), "INSERTED 1");
  for (std::size_t n = 2; n <= 17; ++n) {
    ASSERT_EQ(other.request("delete " + std::to_string(n)), "DELETED");
  }
  Job job = big.request_job("reserve", "RESERVED", 10s);
  EXPECT_EQ(job.id, 1u);
  EXPECT_TRUE(job.body == body) << "the body came back changed";
  EXPECT_EQ(other.request("list-tube-used"), "USING default");
}

// The server's resident memory in KiB, from /proc/PID/status (0 if unreadable).
long resident_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// A client that pipelines thousands of commands and reads none of the
// replies must not make the server hold them all: 20,000 peeks of a
// 15,000-byte job would be 300 MB of replies.
TEST(Load, AClientThatReadsNothingCostsBoundedMemory) {
  ServerProcess s(server_binary());
  Client c = s.connect();
  const std::string body(15'000, 'p');
  ASSERT_EQ(c.put(body), "INSERTED 1");
  const long before_kib = resident_kib(s.pid());
  constexpr int kPeeks = 20'000;
  std::string peeks;
  for (int i = 0; i < kPeeks; ++i) peeks += "peek 1\r\n";
  c.send(peeks);
  // Whatever the server would run without the client reading, it runs now.
  std::this_thread::sleep_for(500ms);
  const long after_kib = resident_kib(s.pid());
  EXPECT_GT(before_kib, 0);
  // The server may hold a few MiB of replies for a slow reader, not 300.
  EXPECT_LT(after_kib - before_kib, 48 * 1024) << "the server holds replies that nobody reads";
  // Nothing is lost: every reply comes once the client reads.
  for (int i = 0; i < kPeeks; ++i) {
    Job job = c.read_job(c.read_line(), "FOUND");
    ASSERT_EQ(job.id, 1u);
    ASSERT_EQ(job.body.size(), body.size());
  }
  EXPECT_EQ(c.request("list-tube-used"), "USING default");
}

// Replies leave from a staging buffer while nothing waits for the socket,
// and through the output queue behind anything that does: a client that
// sends commands for a while before it reads must get every reply, whole and
// in order, across those hand-overs (one of them a send the full socket
// takes only part of).
TEST(Load, ALateReaderGetsEveryReplyInOrder) {
  ServerProcess s(server_binary());
  Client c = s.connect();
  constexpr int kJobs = 8;
  std::vector<std::string> bodies;
  for (int i = 0; i < kJobs; ++i) {
    // Sizes that do not divide the staging buffer evenly.
    bodies.push_back(
        std::string(300 + 97 * static_cast<std::size_t>(i), static_cast<char>('a' + i)));
    ASSERT_EQ(c.put(bodies.back()), "INSERTED " + std::to_string(i + 1));
  }
  // Batches of 20 peeks (about 13 KB of replies each), a turn apart, so that
  // the socket fills up batch by batch and some batch finds it nearly full.
  constexpr int kPeeks = 8'000;
  constexpr int kBatch = 20;
  for (int i = 0; i < kPeeks; i += kBatch) {
    std::string peeks;
    for (int j = i; j < i + kBatch; ++j) peeks += "peek " + std::to_string(j % kJobs + 1) + "\r\n";
    c.send(peeks);
    std::this_thread::sleep_for(1ms);
  }
  for (int i = 0; i < kPeeks; ++i) {
    Job job = c.read_job(c.read_line(), "FOUND");
    ASSERT_EQ(job.id, static_cast<std::uint64_t>(i % kJobs + 1)) << "reply " << i;
    ASSERT_EQ(job.body, bodies[static_cast<std::size_t>(i % kJobs)]) << "reply " << i;
  }
  EXPECT_EQ(c.request("list-tube-used"), "USING default");
}

TEST(Flags, UnixSocketReplacesStaleSocketFile) {
  // A server killed with SIGKILL leaves its socket file behind; the next
  // server on the same path must start anyway.
  ServerProcess first(server_binary(), Transport::Unix);
  const std::string path = first.socket_path();
  first.send_signal(SIGKILL);
  ASSERT_TRUE(first.wait_exit(2000ms).has_value());
  ASSERT_TRUE(std::filesystem::exists(path));
  ServerProcess second(ServerProcess::Options{server_binary(), Transport::Unix, {}, path, {}});
  Client c = second.connect();
  EXPECT_EQ(c.request("list-tube-used"), "USING default");
}

TEST(Flags, UnixSocketRefusesToReplaceOtherFiles) {
  const std::string path = "/tmp/bbt-regular-" + std::to_string(::getpid()) + ".sock";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  EXPECT_THROW(
      ServerProcess(ServerProcess::Options{server_binary(), Transport::Unix, {}, path, {}}),
      HarnessError);
  EXPECT_TRUE(std::filesystem::is_regular_file(path)) << "the server removed a regular file";
  std::filesystem::remove(path);
}

// ------------------------------------------------------------ signals

TEST(Signals, Sigusr1EntersDrainMode) {
  ServerProcess s(server_binary());
  Client c = s.connect();
  ASSERT_EQ(c.put("before"), "INSERTED 1");
  s.send_signal(SIGUSR1);
  ASSERT_TRUE(eventually([&] { return c.stats().get("draining") == "true"; }));
  EXPECT_EQ(c.put("during"), "DRAINING");
  // The body was consumed: the connection is still in sync.
  EXPECT_EQ(c.request("list-tube-used"), "USING default");
  // Everything else still works.
  EXPECT_EQ(c.request_job("reserve", "RESERVED").id, 1u);
  EXPECT_EQ(c.request("delete 1"), "DELETED");
  Client d = s.connect();
  EXPECT_EQ(d.put("other"), "DRAINING");
  EXPECT_EQ(d.stats().get("current-jobs-ready"), "0");
  // Drain mode is for good; a second SIGUSR1 does not undo it.
  s.send_signal(SIGUSR1);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(d.stats().get("draining"), "true");
  EXPECT_TRUE(s.running());
}

TEST(Signals, SigpipeIsIgnored) {
  ServerProcess s(server_binary());
  {
    Client c = s.connect();
    // Ask for a large reply and go away without reading it.
    ASSERT_EQ(c.put(std::string(60000, 'p')), "INSERTED 1");
    std::string many;
    for (int i = 0; i < 200; ++i) many += "peek 1\r\n";
    c.send(many);
  }
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(s.running());
  Client d = s.connect();
  EXPECT_EQ(d.request("list-tube-used"), "USING default");
}

// ------------------------------------------------------------ load

TEST(Load, FiveHundredConcurrentConnections) {
  ServerProcess s(server_binary());
  Client admin = s.connect();
  constexpr int kClients = 520;
  std::vector<Client> clients;
  clients.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(s.connect_new());
    clients.back().send("use t" + std::to_string(i % 10) + "\r\n");
  }
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(clients[static_cast<std::size_t>(i)].read_line(), "USING t" + std::to_string(i % 10));
  }
  auto st = admin.stats();
  EXPECT_EQ(st.get("current-connections"), std::to_string(kClients + 1));
  EXPECT_EQ(st.get("current-tubes"), "11");
  // Every client puts one job, then half of them reserve.
  for (auto& cl : clients) cl.send("put 0 0 10 2\r\nhi\r\n");
  for (auto& cl : clients) ASSERT_EQ(cl.read_line().substr(0, 9), "INSERTED ");
  for (int i = 0; i < kClients; i += 2) {
    auto& cl = clients[static_cast<std::size_t>(i)];
    cl.send("watch t" + std::to_string(i % 10) + "\r\nreserve-with-timeout 0\r\n");
  }
  for (int i = 0; i < kClients; i += 2) {
    auto& cl = clients[static_cast<std::size_t>(i)];
    ASSERT_EQ(cl.read_line(), "WATCHING 2");
    const auto job = cl.read_job(cl.read_line(), "RESERVED");
    EXPECT_EQ(job.body, "hi");
  }
  st = admin.stats();
  EXPECT_EQ(st.get("total-jobs"), std::to_string(kClients));
  EXPECT_EQ(st.get("current-jobs-reserved"), std::to_string(kClients / 2));
  EXPECT_EQ(st.get("current-producers"), std::to_string(kClients));
  clients.clear();
  EXPECT_TRUE(eventually([&] { return admin.stats().get("current-connections") == "1"; }, 5000ms));
  EXPECT_EQ(admin.stats().get("current-jobs-ready"), std::to_string(kClients));
}

// With -f 0 a put's reply waits for the log's sync. Clients that reset
// their connections meanwhile must leave nothing behind that the sync's
// completion would touch (a held connection once outlived its memory: the
// AddressSanitizer build caught the use after free in the first round).
TEST(Load, ClientsResettingWhileTheirPutsAwaitTheLog) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path.empty());
  ServerProcess s(server_binary(), Transport::Tcp, {"-b", tmp.path, "-f", "0"});
  Client admin = s.connect();
  const std::string put = "put 0 0 60 100\r\n" + std::string(100, 'x') + "\r\n";
  constexpr int kRounds = 50, kClients = 20;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<Client> clients;
    for (int i = 0; i < kClients; ++i) clients.push_back(s.connect_new());
    for (auto& c : clients) c.send(put);
    for (auto& c : clients) c.reset();
  }
  // Still serving. Each put either arrived whole (a ready job) or not, and
  // none counts twice (a put cut short by the reset may count in total-jobs
  // without leaving a job, in the reference too).
  ASSERT_EQ(admin.request("list-tube-used"), "USING default");
  EXPECT_TRUE(s.running());
  const auto stats = admin.stats();
  const auto ready = std::stoul(stats.get("current-jobs-ready"));
  const auto total = std::stoul(stats.get("total-jobs"));
  EXPECT_LE(ready, total);
  EXPECT_LE(total, static_cast<unsigned long>(kRounds * kClients));
  EXPECT_EQ(stats.get("current-jobs-reserved"), "0");
}

// ------------------------------------------------------------ a waiting client's unread input
//
// Behind a reserve that waits, the server buffers at most 4 MiB of a
// client's pipelined input and then stops reading it. It must still notice
// the client going away, or a dead client keeps its memory and jobs and is
// handed the next job (the reference notices at once).

class InputBehindReserve : public ::testing::TestWithParam<Transport> {
 protected:
  // A put whose body alone is past the 4 MiB the server buffers, but not by
  // so much that the rest does not fit in the socket's buffers.
  static constexpr std::size_t kBodySize = std::size_t{4} * 1024 * 1024 + 64 * 1024;
  static std::vector<std::string> server_args() { return {"-z", std::to_string(kBodySize)}; }
  static std::string big_put() {
    return "put 0 0 60 " + std::to_string(kBodySize) + "\r\n" + std::string(kBodySize, 'b') +
           "\r\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, InputBehindReserve,
                         ::testing::Values(Transport::Tcp, Transport::Unix),
                         [](const ::testing::TestParamInfo<Transport>& param_info) {
                           return std::string(transport_name(param_info.param));
                         });

TEST_P(InputBehindReserve, AClientThatGoesAwayIsDroppedAndItsJobsReturn) {
  ServerProcess s(server_binary(), GetParam(), server_args());
  Client admin = s.connect();
  ASSERT_EQ(admin.put("held"), "INSERTED 1");
  Client waiter = s.connect_new();
  ASSERT_EQ(waiter.request_job("reserve", "RESERVED").id, 1u);
  ASSERT_EQ(waiter.request("watch other"), "WATCHING 2");
  ASSERT_EQ(waiter.request("ignore default"), "WATCHING 1");
  // (The reference reads none of it while the reserve waits: the socket's
  // buffers take what they can.)
  waiter.try_send("reserve\r\n" + big_put(), 2000ms);
  ASSERT_TRUE(eventually([&] { return admin.stats().get("current-waiting") == "1"; }));
  std::this_thread::sleep_for(100ms);  // the server reads what it buffers, then stops
  waiter.reset();
  EXPECT_TRUE(eventually([&] { return admin.stats().get("current-connections") == "1"; }))
      << "a client that went away is still connected";
  const YamlDict stats = admin.stats();
  EXPECT_EQ(stats.get("current-waiting"), "0");
  EXPECT_EQ(stats.get("current-jobs-reserved"), "0");
  EXPECT_EQ(admin.stats_job(1).get("state"), "ready");
  // Nobody waits on the tube any more: a job put there stays ready.
  ASSERT_EQ(admin.request("use other"), "USING other");
  const std::uint64_t id = admin.put_id("fresh");
  std::this_thread::sleep_for(100ms);
  const YamlDict job = admin.stats_job(id);
  EXPECT_EQ(job.get("state"), "ready");
  EXPECT_EQ(job.get("reserves"), "0");
}

TEST_P(InputBehindReserve, AClientThatHalfClosesGetsTimedOutAndTheRestRuns) {
  if (testing_reference_itself()) {
    GTEST_SKIP() << "the reference reads nothing while a reserve waits: 4 MiB never reaches it";
  }
  ServerProcess s(server_binary(), GetParam(), server_args());
  Client admin = s.connect();
  Client waiter = s.connect_new();
  waiter.send("reserve\r\n" + big_put());
  waiter.shutdown_write();
  EXPECT_EQ(waiter.read_line(2000ms), "TIMED_OUT");
  EXPECT_EQ(waiter.read_line(2000ms), "INSERTED 1");
  EXPECT_TRUE(waiter.wait_closed(2000ms));
  const YamlDict job = admin.stats_job(1);
  EXPECT_EQ(job.get("state"), "ready");
  EXPECT_EQ(admin.stats().get("current-connections"), "1");
}

// ------------------------------------------------------------ deliberate differences
//
// The compatibility notes list reference defects the project fixes on
// purpose. These tests assert the project's behaviour, so they skip when the
// server under test is the reference binary itself.

#define SKIP_IF_REFERENCE()                                                            \
  do {                                                                                 \
    if (testing_reference_itself()) {                                                  \
      GTEST_SKIP() << "deliberate difference: the reference server behaves otherwise"; \
    }                                                                                  \
  } while (0)

class Deliberate : public ::testing::TestWithParam<Transport> {};

INSTANTIATE_TEST_SUITE_P(Transports, Deliberate, ::testing::Values(Transport::Tcp, Transport::Unix),
                         [](const ::testing::TestParamInfo<Transport>& param_info) {
                           return std::string(transport_name(param_info.param));
                         });

TEST_P(Deliberate, Line225BytesDoesNotSwallowNextCommand) {
  SKIP_IF_REFERENCE();
  ServerProcess s(server_binary(), GetParam());
  Client c = s.connect();
  // 223 bytes of text + CRLF = 225 bytes: one too many.
  c.send("use " + std::string(219, 'a') + "\r\nlist-tube-used\r\n");
  EXPECT_EQ(c.read_line(2000ms), "BAD_FORMAT");
  EXPECT_EQ(c.read_line(2000ms), "USING default");
  c.send(std::string(223, 'x') + "\r\nput 0 0 1 1\r\nz\r\n");
  EXPECT_EQ(c.read_line(2000ms), "BAD_FORMAT");
  EXPECT_EQ(c.read_line(2000ms), "INSERTED 1");
  // The same split over two writes, the CRLF arriving separately.
  c.send(std::string(223, 'y'));
  std::this_thread::sleep_for(20ms);
  c.send("\r\nlist-tube-used\r\n");
  EXPECT_EQ(c.read_line(2000ms), "BAD_FORMAT");
  EXPECT_EQ(c.read_line(2000ms), "USING default");
}

TEST_P(Deliberate, ReserveWithTimeoutParsesStrictly) {
  SKIP_IF_REFERENCE();
  ServerProcess s(server_binary(), GetParam());
  Client c = s.connect();
  for (const char* bad : {"2147483648", "4294967295", "4294967296", "9223372036854775808", "-1",
                          "-0", "-2147483648", "+0", "1x", "x"}) {
    EXPECT_EQ(c.request(std::string("reserve-with-timeout ") + bad, 2000ms), "BAD_FORMAT") << bad;
  }
  EXPECT_EQ(c.stats().get("current-waiting"), "0");
  ASSERT_EQ(c.put("a"), "INSERTED 1");
  EXPECT_EQ(c.request_job("reserve-with-timeout 2147483647", "RESERVED").id, 1u);
  EXPECT_EQ(c.request("release 1 0 0"), "RELEASED");
  EXPECT_EQ(c.request_job("reserve-with-timeout 0000", "RESERVED").id, 1u);
}

// Debian's 1.12 misses a TTR while other connections keep it busy: polled
// every 50 ms from a second connection, its job stayed reserved for seconds
// after a 1 s TTR (found by the Pheanstalk client test). Timers here fire
// whatever the traffic.
TEST(DeliberateProcess, TtrExpiresWhileOtherClientsKeepTheServerBusy) {
  SKIP_IF_REFERENCE();
  ServerProcess s(server_binary());
  Client holder = s.connect();
  Client observer = s.connect_new();
  ASSERT_EQ(holder.put("job", 0, 0, 1), "INSERTED 1");
  ASSERT_EQ(holder.request_job("reserve", "RESERVED").id, 1u);
  const auto reserved_at = Clock::now();
  std::string state = "reserved";
  while (state == "reserved" && Clock::now() - reserved_at < 4s) {
    std::this_thread::sleep_for(50ms);
    state = observer.stats_job(1).get("state");
  }
  EXPECT_EQ(state, "ready");
  EXPECT_LT(Clock::now() - reserved_at, 1600ms) << "the TTR of 1 s fired late";
  EXPECT_EQ(observer.stats_job(1).get("timeouts"), "1");
}

TEST(DeliberateProcess, SigtermExitsZero) {
  SKIP_IF_REFERENCE();
  ServerProcess s(server_binary());
  Client c = s.connect();
  ASSERT_EQ(c.put("x"), "INSERTED 1");
  s.send_signal(SIGTERM);
  const auto status = s.wait_exit(5000ms);
  ASSERT_TRUE(status.has_value()) << "server did not exit on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status)) << "status " << *status;
  if (WIFEXITED(*status)) {
    EXPECT_EQ(WEXITSTATUS(*status), 0);
  }
}

TEST(DeliberateProcess, SigintExitsZero) {
  SKIP_IF_REFERENCE();
  ServerProcess s(server_binary());
  s.send_signal(SIGINT);
  const auto status = s.wait_exit(5000ms);
  ASSERT_TRUE(status.has_value()) << "server did not exit on SIGINT";
  EXPECT_TRUE(WIFEXITED(*status)) << "status " << *status;
  if (WIFEXITED(*status)) {
    EXPECT_EQ(WEXITSTATUS(*status), 0);
  }
}

TEST(DeliberateProcess, JobIdsNeverGoBackwardsAcrossRestarts) {
  SKIP_IF_REFERENCE();
  TempDir tmp;
  ASSERT_FALSE(tmp.path.empty());
  const std::string& dir = tmp.path;
  // Small log files, so that every file holding the deleted jobs is
  // collected: the reference then restarts its ids at 1.
  const std::vector<std::string> args = {"-b", dir, "-s", "4096"};
  constexpr int kJobs = 50;
  {
    ServerProcess s(server_binary(), Transport::Tcp, args);
    Client c = s.connect();
    const std::string body(1000, 'j');
    for (int i = 1; i <= kJobs; ++i) ASSERT_EQ(c.put(body), "INSERTED " + std::to_string(i));
    for (int i = 1; i <= kJobs; ++i) ASSERT_EQ(c.request("delete " + std::to_string(i)), "DELETED");
    s.send_signal(SIGTERM);
    ASSERT_TRUE(s.wait_exit(5000ms).has_value());
  }
  {
    ServerProcess s(server_binary(), Transport::Tcp, args);
    Client c = s.connect();
    const auto id = c.put_id("after restart");
    EXPECT_GT(id, static_cast<std::uint64_t>(kJobs))
        << "job id went backwards after a restart with an empty log";
  }
}

}  // namespace
}  // namespace bbt
