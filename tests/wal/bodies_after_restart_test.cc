// The built server brings its jobs back after a restart with their bodies
// left in the log (read back, checksum verified, when a client asks): every
// body is served byte for byte through peek and reserve, across a graceful
// stop and a kill -9; and a body damaged on disk under the running server is
// answered with INTERNAL_ERROR and a log line naming the file, never with
// other bytes.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "process_client.h"

namespace {

namespace fs = std::filesystem;
using namespace beanstalkd::testing;

// Bodies of many sizes, with bytes a line-based reader would trip on. The
// last size is one the log writes in two steps (PlacedRecord).
std::string body_for(int i) {
  const std::size_t sizes[] = {16, 17, 100, 1000, 4095, 65536, 300000, 1500001};
  std::string body(sizes[i % 8], '\0');
  for (std::size_t k = 0; k < body.size(); ++k)
    body[k] = static_cast<char>((k * 31 + static_cast<std::size_t>(i) * 7) % 256);
  body.replace(0, 4, "\r\n\r\n");
  return body;
}

// `peek ID` (or any command answering with a job): the body, or the reply
// line when there is none.
std::string job_reply(Client& c, const std::string& command, std::string* line = nullptr) {
  c.send(command + "\r\n");
  const std::string header = c.line();
  if (line) *line = header;
  const std::size_t space = header.rfind(' ');
  if (header.rfind("FOUND ", 0) != 0 && header.rfind("RESERVED ", 0) != 0) return header;
  const std::string body = c.bytes(std::stoul(header.substr(space + 1)) + 2);
  return body.substr(0, body.size() - 2);
}

// Peeks every job in `jobs` (but `skip`) and compares its body.
void expect_bodies(Client& c, const std::map<std::uint64_t, std::string>& jobs,
                   std::uint64_t skip = 0) {
  for (const auto& [id, body] : jobs) {
    if (id == skip) continue;
    ASSERT_EQ(job_reply(c, "peek " + std::to_string(id)), body) << "job " << id;
  }
}

class BodiesAfterRestart : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("BEANSTALKD_BIN");
    if (!bin) GTEST_SKIP() << "BEANSTALKD_BIN not set";
    bin_ = bin;
    char tmpl[] = "/tmp/bodies-after-restart-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    log_path_ = dir_ + ".server.log";
  }
  void TearDown() override {
    fs::remove_all(dir_);
    fs::remove(log_path_);
  }
  pid_t start(int port) {
    return start_process(
        bin_, {"-l", "127.0.0.1", "-p", std::to_string(port), "-b", dir_, "-z", "2097152"}, port,
        log_path_);
  }

  std::string bin_, dir_, log_path_;
};

TEST_F(BodiesAfterRestart, EveryBodyComesBackExactlyAndDamageIsAnError) {
  std::map<std::uint64_t, std::string> jobs;
  int port = free_port();
  {
    ProcessGuard server(start(port));
    Client c(port);
    ASSERT_TRUE(c.ok());
    for (int i = 0; i < 70; ++i) {
      const std::string body = body_for(i);
      c.send("put 100 0 60 " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
      const std::string reply = c.line();
      ASSERT_EQ(reply.rfind("INSERTED ", 0), 0u) << reply;
      jobs[std::stoull(reply.substr(9))] = body;
    }
    server.stop(SIGTERM);
  }

  // After a graceful stop: every body through peek, then half of the jobs
  // reserved and deleted.
  port = free_port();
  {
    ProcessGuard server(start(port));
    Client c(port);
    expect_bodies(c, jobs);
    for (int n = 0; n < 35; ++n) {
      std::string line;
      const std::string body = job_reply(c, "reserve-with-timeout 0", &line);
      ASSERT_EQ(line.rfind("RESERVED ", 0), 0u) << line;
      const std::uint64_t id = std::stoull(line.substr(9));
      ASSERT_EQ(body, jobs[id]) << "job " << id;
      c.send("delete " + std::to_string(id) + "\r\n");
      ASSERT_EQ(c.line(), "DELETED");
      jobs.erase(id);
    }
    c.send("stats\r\n");  // the deletes are written by the time this answers
    c.bytes(std::stoul(c.line().substr(3)) + 2);
    server.stop(SIGKILL);
  }

  // After kill -9: the other half, and one body damaged under the server.
  port = free_port();
  ProcessGuard server(start(port));
  Client c(port);
  expect_bodies(c, jobs);

  const std::uint64_t victim = jobs.begin()->first;
  const std::string& victim_body = jobs.begin()->second;
  bool damaged = false;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    std::string bytes = read_file(entry.path());
    const std::size_t at = bytes.find(victim_body);
    if (at == std::string::npos) continue;
    bytes[at + victim_body.size() / 2] ^= 0x40;
    std::fstream out(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(static_cast<std::streamoff>(at + victim_body.size() / 2));
    out.put(bytes[at + victim_body.size() / 2]);
    damaged = out.good();
    break;
  }
  ASSERT_TRUE(damaged);
  EXPECT_EQ(job_reply(c, "peek " + std::to_string(victim)), "INTERNAL_ERROR");
  EXPECT_NE(read_file(log_path_).find("cannot read job " + std::to_string(victim) +
                                      "'s body back from log file wal."),
            std::string::npos)
      << read_file(log_path_);
  // The others are untouched, and the connection still serves.
  expect_bodies(c, jobs, victim);

  // A reserve meets the damaged job first (lowest id): INTERNAL_ERROR, and
  // the job is buried rather than left reserved to a client that was never
  // told its id, so the next reserve gets the next job.
  ASSERT_EQ(jobs.begin()->first, victim);
  EXPECT_EQ(job_reply(c, "reserve-with-timeout 0"), "INTERNAL_ERROR");
  std::string line;
  const std::string next_body = job_reply(c, "reserve-with-timeout 0", &line);
  ASSERT_EQ(line.rfind("RESERVED ", 0), 0u) << line;
  const std::uint64_t next = std::stoull(line.substr(9));
  EXPECT_NE(next, victim);
  EXPECT_EQ(next_body, jobs[next]);
  c.send("stats-job " + std::to_string(victim) + "\r\n");
  const std::string header = c.line();
  ASSERT_EQ(header.rfind("OK ", 0), 0u) << header;
  EXPECT_NE(c.bytes(std::stoul(header.substr(3)) + 2).find("\nstate: buried\n"), std::string::npos);
  EXPECT_NE(read_file(log_path_).find("job " + std::to_string(victim) + " was buried"),
            std::string::npos)
      << read_file(log_path_);
}

}  // namespace
