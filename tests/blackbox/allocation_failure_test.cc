// Allocations that fail at a moment the test chooses, in the real server
// binary: fail_alloc_preload.cc, loaded with LD_PRELOAD, refuses every
// allocation of at least a given size while the test says so. Each test
// leads one path of the server into std::bad_alloc and checks that the
// server refuses that one thing clearly and goes on: no crash, no reply cut
// short, no job lost, and a log line that says what happened.
//
// memory_limit_test.cc limits the whole address space instead, which shows
// the server at its limit as a whole but cannot aim at one allocation.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fail_alloc_control.h"
#include "free_port.h"
#include "harness.h"

#ifndef BBT_FAIL_ALLOC_PRELOAD
#define BBT_FAIL_ALLOC_PRELOAD ""
#endif

namespace bbt {
namespace {

using namespace std::chrono_literals;

// The control block shared with the preloaded library, in a file of its own.
class FailingAllocations {
 public:
  FailingAllocations() : path_(dir_.path + "/control") {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ::ftruncate(fd, sizeof(FailAllocControl)) != 0)
      throw HarnessError("cannot create " + path_);
    void* shared =
        ::mmap(nullptr, sizeof(FailAllocControl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (shared == MAP_FAILED) throw HarnessError("cannot map " + path_);
    control_ = new (shared) FailAllocControl;
  }
  FailingAllocations(const FailingAllocations&) = delete;
  FailingAllocations& operator=(const FailingAllocations&) = delete;
  ~FailingAllocations() { ::munmap(control_, sizeof(FailAllocControl)); }

  // The environment that loads the library into a server and points it here.
  std::vector<std::string> server_env() const {
    return {std::string("LD_PRELOAD=") + BBT_FAIL_ALLOC_PRELOAD,
            std::string(kFailAllocControlVariable) + "=" + path_};
  }

  // From now on every allocation of at least `size` bytes fails.
  void fail_from(std::uint64_t size) { control_->min_size.store(size); }
  void stop() { control_->min_size.store(0); }
  std::uint64_t failures() const { return control_->failures.load(); }

  // Waits (bounded) until at least one allocation has been refused.
  bool wait_for_a_failure(Millis timeout = kDefaultTimeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (failures() == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    return failures() > 0;
  }

 private:
  TempDir dir_;
  std::string path_;
  FailAllocControl* control_ = nullptr;
};

class AllocationFailure : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "sanitizer runtimes own malloc; the preloaded library cannot replace it";
#endif
    if (testing_reference_itself()) GTEST_SKIP() << "tests the project's own server";
  }

  ServerProcess::Options server_options(std::vector<std::string> args = {}) const {
    ServerProcess::Options options;
    options.binary = server_binary();
    options.args = std::move(args);
    options.env = allocations_.server_env();
    return options;
  }

  FailingAllocations allocations_;
};

// The whole of a plain HTTP/1.0 exchange: status line, headers and body.
std::string http_get(std::uint16_t port, const std::string& path) {
  Client http = Client::connect_tcp(port);
  http.send("GET " + path + " HTTP/1.0\r\n\r\n");
  bool eof = false;
  std::string response = http.read_until_eof(kDefaultTimeout, &eof);
  if (!eof) throw HarnessError("the HTTP response did not end: " + visible(response));
  return response;
}

// "200" of "HTTP/1.0 200 OK\r\n...", or "" if the response has no status line.
// (libevent's error replies say HTTP/1.1 whatever the request said.)
std::string status_code(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12 || response[8] != ' ') return "";
  return response.substr(9, 3);
}

// The job `id` is ready again, whole: the next reserve gets it.
void expect_ready_again(Client& c, std::uint64_t id, const std::string& body) {
  const Job again = c.request_job("reserve-with-timeout 1", "RESERVED");
  EXPECT_EQ(again.id, id);
  EXPECT_EQ(again.body, body);
}

// A scrape comes most often when something is wrong, memory included. One
// that finds no memory for its text is answered 503, and the next one, with
// memory again, is whole.
TEST_F(AllocationFailure, AScrapeWithoutMemoryIsAnswered503AndTheNextOneIsWhole) {
  const std::uint16_t metrics_port = beanstalkd::testing::free_loopback_port();
  ServerProcess server(
      server_options({"--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port)}));
  Client c = server.connect();
  for (int i = 0; i < 3; ++i) c.put_id("job");

  ASSERT_EQ(status_code(http_get(metrics_port, "/metrics")), "200");

  // The text (about 35 KB) is rendered into one string reserved whole;
  // the request's own buffers are smaller than this.
  allocations_.fail_from(8192);
  const std::string refused = http_get(metrics_port, "/metrics");
  allocations_.stop();
  EXPECT_GT(allocations_.failures(), 0u);
  EXPECT_EQ(status_code(refused), "503") << visible(refused);

  const std::string whole = http_get(metrics_port, "/metrics");
  EXPECT_EQ(status_code(whole), "200");
  EXPECT_NE(whole.find("\nbeanstalkd_jobs{state=\"ready\"} 3\n"), std::string::npos)
      << visible(whole.substr(0, 2000));
  EXPECT_EQ(c.stats().get_uint("current-jobs-ready"), 3u);
  EXPECT_TRUE(server.running());
}

// libevent 2.1's HTTP server crashes when a new connection's bufferevent
// cannot be allocated. Each scrape's is made ahead; without memory for the
// next, the endpoint stops accepting, and scrapes wait in the listen queue
// until memory is back.
TEST_F(AllocationFailure, ScrapesWithoutMemoryForTheirConnectionWaitForIt) {
  const std::uint16_t metrics_port = beanstalkd::testing::free_loopback_port();
  ServerProcess server(
      server_options({"--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port)}));
  Client c = server.connect();

  allocations_.fail_from(512);  // a bufferevent is larger
  std::vector<Client> scrapes;
  for (int i = 0; i < 3; ++i) {
    scrapes.push_back(Client::connect_tcp(metrics_port));
    scrapes.back().send("GET /metrics HTTP/1.0\r\n\r\n");
  }
  ASSERT_TRUE(allocations_.wait_for_a_failure()) << server.log();
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(server.running()) << server.log();
  allocations_.stop();

  // The first took the bufferevent made ahead and may have been closed for
  // want of its other buffers; the others waited and are answered whole.
  int answered = 0;
  for (Client& scrape : scrapes) {
    bool eof = false;
    const std::string response = scrape.read_until_eof(kDefaultTimeout, &eof);
    EXPECT_TRUE(eof);
    if (response.empty()) continue;
    EXPECT_EQ(status_code(response), "200") << visible(response.substr(0, 200));
    ++answered;
  }
  EXPECT_GE(answered, 2);
  EXPECT_NE(server.log().find("metrics endpoint: out of memory; scrapes wait"), std::string::npos)
      << server.log();
  EXPECT_EQ(c.stats().get_uint("current-connections"), 1u);
}

// Without memory for a read buffer of the usual 64 KiB, a connection reads
// into a small one: workers still reserve and delete, which is how memory
// comes back.
TEST_F(AllocationFailure, WithoutMemoryForTheUsualReadBufferCommandsAreStillRead) {
  ServerProcess server(server_options());
  Client c = server.connect();
  const std::uint64_t first = c.put_id("first");
  const std::uint64_t second = c.put_id("second");  // its read buffer is now the one spare

  std::vector<Client> workers;
  for (int i = 0; i < 4; ++i) workers.push_back(server.connect_new());
  allocations_.fail_from(64 * 1024);
  // Each holds its buffer while its line is incomplete: the first takes the
  // spare, the others find no 64 KiB to be had.
  for (Client& w : workers) w.send("reserve-with-timeout 0");
  ASSERT_TRUE(allocations_.wait_for_a_failure()) << server.log();

  std::vector<std::uint64_t> reserved;
  for (Client& w : workers) {
    w.send("\r\n");
    const std::string reply = w.read_line();
    if (reply == "TIMED_OUT") continue;
    const Job job = w.read_job(reply, "RESERVED");
    EXPECT_EQ(w.request("delete " + std::to_string(job.id)), "DELETED");
    reserved.push_back(job.id);
  }
  allocations_.stop();
  EXPECT_EQ(reserved, (std::vector<std::uint64_t>{first, second}));
  EXPECT_EQ(server.log().find("closing the connection"), std::string::npos) << server.log();
  EXPECT_EQ(c.stats().get_uint("current-jobs-ready"), 0u);
}

// A pipelined put larger than the read buffer would grow the buffer before
// the put runs. Without memory for that, what the buffer holds runs first
// and reading goes on once it has made room.
TEST_F(AllocationFailure, APutLargerThanTheReadBufferIsReadWhenTheBufferCannotGrow) {
  ServerProcess server(server_options({"-z", "200000"}));
  Client c = server.connect();
  const std::string big(70'000, 'g');
  allocations_.fail_from(100'000);  // the job's 70 KB can be had, 128 KiB of input cannot
  c.send("put 0 0 60 70000\r\n" + big + "\r\nput 0 0 60 5\r\nsmall\r\n");
  const std::string first = c.read_line();
  const std::string second = c.read_line();
  allocations_.stop();
  EXPECT_GT(allocations_.failures(), 0u) << "the buffer never tried to grow";
  ASSERT_EQ(first.rfind("INSERTED ", 0), 0u) << first;
  ASSERT_EQ(second.rfind("INSERTED ", 0), 0u) << second;
  EXPECT_EQ(c.request_job("reserve-with-timeout 0", "RESERVED").body, big);
  EXPECT_EQ(c.request_job("reserve-with-timeout 0", "RESERVED").body, "small");
}

// A connection whose input finds no buffer at all, not even a small one, is
// closed with nothing read (so nothing of its half-run), and only that
// connection.
TEST_F(AllocationFailure, AConnectionWithoutMemoryForAnyReadBufferIsDroppedAndTheOthersGoOn) {
  ServerProcess server(server_options());
  Client c = server.connect();
  c.put_id("before");  // its read buffer goes to the pool of spares: one spare

  std::vector<Client> waiting;
  for (int i = 0; i < 4; ++i) waiting.push_back(server.connect_new());
  allocations_.fail_from(4 * 1024);
  // The first takes the spare; the others find neither 64 nor 4 KiB.
  for (Client& w : waiting) w.send("stats-tube default");
  ASSERT_TRUE(allocations_.wait_for_a_failure()) << server.log();
  std::this_thread::sleep_for(50ms);  // lets the server reach the other three
  allocations_.stop();

  int dropped = 0;
  for (Client& w : waiting) {
    if (w.readable(300ms)) {
      bool eof = false;
      EXPECT_EQ(w.read_until_eof(1s, &eof), "") << "a dropped connection is sent nothing";
      EXPECT_TRUE(eof);
      ++dropped;
    } else {
      w.send("\r\n");
      const std::string reply = w.read_line();
      EXPECT_EQ(reply.rfind("OK ", 0), 0u) << reply;
    }
  }
  EXPECT_GE(dropped, 1);
  EXPECT_NE(server.log().find("out of memory for a read buffer; closing the connection"),
            std::string::npos)
      << server.log();

  // The others were never disturbed, and new ones are served.
  EXPECT_EQ(c.request_job("reserve-with-timeout 0", "RESERVED").body, "before");
  Client fresh = server.connect_new();
  EXPECT_EQ(fresh.stats().get_uint("current-jobs-reserved"), 1u);
  EXPECT_TRUE(server.running());
}

// A reply whose bytes find no memory must not leave the client with a
// header and no body (it would wait for it forever, or read the next reply
// as the body): the connection is closed with nothing more sent, and the
// job it reserved goes back to ready, whole.
TEST_F(AllocationFailure, AReplyWithoutMemoryForItsBytesClosesTheConnectionAndGivesTheJobBack) {
  ServerProcess server(server_options());
  Client producer = server.connect();
  const std::string body(16000, 'b');  // under the size sent by reference
  const std::uint64_t id = producer.put_id(body);

  // The stats reply fills part of the connection's 16 KiB staging buffer,
  // so the job's body does not fit beside it and needs an output buffer of
  // its own, which fails.
  Client worker = server.connect_new();
  allocations_.fail_from(8192);
  worker.send("stats\r\nreserve\r\n");
  ASSERT_TRUE(allocations_.wait_for_a_failure()) << server.log();
  allocations_.stop();

  bool eof = false;
  const std::string sent = worker.read_until_eof(kDefaultTimeout, &eof);
  EXPECT_TRUE(eof) << "the connection stays open after a reply that could not be sent";
  EXPECT_EQ(sent, "") << "a reply cut short: " << visible(sent.substr(0, 200));
  EXPECT_NE(server.log().find("out of memory for a reply; closing the connection"),
            std::string::npos)
      << server.log();

  expect_ready_again(producer, id, body);
  EXPECT_TRUE(server.running());
}

// With -b a job's body stays in the log and a reserve reads it back. One
// that finds no memory to read it into is refused, and the job it had
// already taken goes back to ready: not held, unseen, until its TTR.
TEST_F(AllocationFailure, AReserveWithoutMemoryToReadTheBodyBackGivesTheJobBack) {
  TempDir log_dir;
  ServerProcess server(server_options({"-b", log_dir.path, "-z", "1000000"}));
  Client producer = server.connect();
  const std::string body(200'000, 'l');
  const std::uint64_t id = producer.put_id(body, 0, 0, 3600);

  Client worker = server.connect_new();
  allocations_.fail_from(100'000);
  EXPECT_EQ(worker.request("reserve-with-timeout 0"), "OUT_OF_MEMORY");
  allocations_.stop();
  EXPECT_GT(allocations_.failures(), 0u);

  expect_ready_again(worker, id, body);
  EXPECT_TRUE(server.running());
}

// SIGTERM at the memory limit: the server still writes what it must, exits
// 0, and a restart has every job.
TEST_F(AllocationFailure, AServerWithoutMemoryStillShutsDownAndKeepsEveryJob) {
  TempDir log_dir;
  std::vector<std::uint64_t> ids;
  {
    ServerProcess server(server_options({"-b", log_dir.path}));
    Client c = server.connect();
    for (int i = 0; i < 2000; ++i) ids.push_back(c.put_id("job " + std::to_string(i)));
    Client worker = server.connect_new();
    worker.send("reserve\r\n");  // holds a job when the server stops
    worker.read_line();
    worker.read_line();

    allocations_.fail_from(64);  // anything but the smallest fails
    server.send_signal(SIGTERM);
    const std::optional<int> status = server.wait_exit(kDefaultTimeout);
    allocations_.stop();
    EXPECT_GT(allocations_.failures(), 0u) << "the shutdown met no failure";
    ASSERT_TRUE(status.has_value()) << server.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "wait status " << *status << "\n"
        << server.log();
  }
  ServerProcess restarted(server_binary(), Transport::Tcp, {"-b", log_dir.path});
  Client c = restarted.connect();
  EXPECT_EQ(c.stats().get_uint("current-jobs-ready"), ids.size());
  EXPECT_EQ(c.request_job("peek " + std::to_string(ids.back()), "FOUND").body, "job 1999");
}

// A mixed workload from a few clients, with every allocation from a size
// up failing for the middle of it, then memory back: whatever the size, the
// server never crashes, never leaves a client waiting, never sends half a
// reply, and every job a put acknowledged (and no delete took back) is
// there with its body. With -b the server is killed (-9) and restarted
// first. Clients may be refused or dropped only while memory is short.
struct Threshold {
  std::uint64_t bytes;
  bool log;
};

void PrintTo(const Threshold& t, std::ostream* os) {
  *os << t.bytes << " bytes, " << (t.log ? "with -b" : "in memory");
}

class AllocationFailureWorkload : public AllocationFailure,
                                  public ::testing::WithParamInterface<Threshold> {};

TEST_P(AllocationFailureWorkload, LosesNothingAndRecovers) {
  const Threshold threshold = GetParam();
  TempDir log_dir;
  std::vector<std::string> args = {"-z", "100000"};
  if (threshold.log) args.insert(args.end(), {"-b", log_dir.path});
  auto server = std::make_unique<ServerProcess>(server_options(args));
  std::vector<Client> clients;
  clients.push_back(server->connect());
  for (int i = 0; i < 3; ++i) clients.push_back(server->connect_new());

  std::mt19937 random(static_cast<std::uint32_t>(threshold.bytes) + (threshold.log ? 1 : 0));
  std::map<std::uint64_t, std::string> acknowledged;
  bool failing = false;
  int dropped = 0;
  // One operation on a client; false if the server closed the connection.
  auto operate = [&](Client& c, int n) {
    const int kind = static_cast<int>(random() % 10);
    if (kind < 5) {
      const std::size_t sizes[] = {10, 100, 1000, 20000, 70000};
      const std::string body(sizes[random() % 5], static_cast<char>('a' + n % 26));
      const std::string reply = c.put(body, static_cast<std::uint32_t>(random() % 3));
      if (reply.rfind("INSERTED ", 0) == 0) {
        acknowledged[std::stoull(reply.substr(9))] = body;
      } else {
        EXPECT_TRUE(failing && reply == "OUT_OF_MEMORY") << reply;
      }
    } else if (kind < 9) {
      const std::string reply = c.request("reserve-with-timeout 0");
      if (reply == "TIMED_OUT") return;
      if (reply == "OUT_OF_MEMORY") {
        EXPECT_TRUE(failing);
        return;
      }
      const Job job = c.read_job(reply, "RESERVED");
      EXPECT_EQ(job.body, acknowledged[job.id]) << "job " << job.id;
      const std::string id = std::to_string(job.id);
      const std::string done = kind == 5   ? c.request("release " + id + " 0 0")
                               : kind == 6 ? c.request("bury " + id + " 0")
                                           : c.request("delete " + id);
      if (done == "DELETED") acknowledged.erase(job.id);
      if (done == "BURIED") {
        EXPECT_EQ(c.request("kick-job " + id).rfind("KICKED", 0), 0u);
      } else if (done == "OUT_OF_MEMORY") {
        EXPECT_EQ(c.request("release " + id + " 0 0"), "RELEASED");
      }
    } else {
      const std::string reply = c.request(random() % 2 ? "stats" : "list-tubes");
      if (reply == "OUT_OF_MEMORY") {
        EXPECT_TRUE(failing);
        return;
      }
      ASSERT_EQ(reply.rfind("OK ", 0), 0u) << reply;
      c.read_exact(std::stoull(reply.substr(3)) + 2);
    }
  };
  for (int n = 0; n < 600; ++n) {
    failing = n >= 150 && n < 450;
    if (n == 150) allocations_.fail_from(threshold.bytes);
    if (n == 450) {
      allocations_.stop();
      // Puts stay refused until the emergency memory is set aside again,
      // tried once a second.
      std::this_thread::sleep_for(1100ms);
      // A client dropped by the last turns short of memory finds out now.
      for (Client& other : clients) {
        if (other.try_send("use default\r\n") && other.readable(1s) &&
            other.read_until_eof(100ms).rfind("USING", 0) == 0)
          continue;
        ++dropped;
        other = server->connect_new();
      }
    }
    Client& c = clients[random() % clients.size()];
    try {
      operate(c, n);
    } catch (const HarnessError& e) {
      ASSERT_NE(std::string(e.what()).find("connection closed"), std::string::npos)
          << "at operation " << n << ": " << e.what() << "\n"
          << server->log();
      ASSERT_TRUE(failing) << "dropped at operation " << n << " with memory to spare";
      ASSERT_TRUE(server->running()) << server->log();
      ++dropped;
      c = server->connect_new();  // its reserved jobs went back to ready
    }
  }
  ASSERT_TRUE(server->running()) << server->log();
  EXPECT_GT(allocations_.failures(), 0u) << "no allocation was refused";

  if (threshold.log) {
    server->send_signal(SIGKILL);
    server->wait_exit(kDefaultTimeout);
    server = std::make_unique<ServerProcess>(server_binary(), Transport::Tcp,
                                             std::vector<std::string>{"-b", log_dir.path});
  }
  clients.clear();
  Client drain = server->connect_new();
  EXPECT_EQ(drain.request("kick 100000").rfind("KICKED", 0), 0u);
  std::map<std::uint64_t, std::string> found;
  for (;;) {
    const std::string reply = drain.request("reserve-with-timeout 0");
    if (reply == "TIMED_OUT") break;
    const Job job = drain.read_job(reply, "RESERVED");
    found[job.id] = job.body;
    ASSERT_EQ(drain.request("delete " + std::to_string(job.id)), "DELETED");
  }
  EXPECT_EQ(found.size(), acknowledged.size()) << dropped << " connections dropped";
  EXPECT_TRUE(found == acknowledged) << "a job acknowledged was lost, changed or came back";
}

INSTANTIATE_TEST_SUITE_P(Sizes, AllocationFailureWorkload,
                         ::testing::Values(Threshold{65536, false}, Threshold{4096, false},
                                           Threshold{512, false}, Threshold{64, false},
                                           Threshold{65536, true}, Threshold{4096, true},
                                           Threshold{512, true}, Threshold{64, true}),
                         [](const ::testing::TestParamInfo<Threshold>& param) {
                           return std::to_string(param.param.bytes) +
                                  (param.param.log ? "WithLog" : "InMemory");
                         });

}  // namespace
}  // namespace bbt
