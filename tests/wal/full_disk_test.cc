// A real full disk, end to end: the built server logs to a small tmpfs that
// runs out of space. Once the log has no room for its next file, puts are
// refused (OUT_OF_MEMORY) and the log says why; deletes, releases, burials
// and kicks go into the current file's reserve, so consumers can drain the
// queue and free the disk; reads keep working, changes are accepted again once space
// returns, and after a restart every acknowledged job is there, byte for
// byte, and no deleted one. (The fault-injection tests in wal_test.cc
// cover the same failures through the file-system seam; this one runs the
// real system calls.) Mounting needs root: the test skips without it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "process_client.h"

namespace {

using namespace beanstalkd::testing;

// The response to a GET of `path` from the metrics endpoint on `port`,
// status line first.
std::string http_get(int port, const std::string& path) {
  Client c(port);
  c.send("GET " + path + " HTTP/1.0\r\n\r\n");
  return c.until_closed();
}

// A tmpfs of `bytes` mounted on a fresh directory, unmounted at scope exit.
class SmallDisk {
 public:
  explicit SmallDisk(std::size_t bytes) {
    char tmpl[] = "/tmp/full-disk-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      error_ = std::strerror(errno);
      return;
    }
    path_ = tmpl;
    const std::string options = "size=" + std::to_string(bytes);
    if (mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      error_ = std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  ~SmallDisk() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
    if (!path_.empty()) rmdir(path_.c_str());
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string error_;
  bool mounted_ = false;
};

std::string put(Client& c, const std::string& body) {
  c.send("put 0 0 60 " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
  return c.line();
}

// A 4 MiB disk with a log directory and a file that leaves the log about
// 200 KiB; the server's own log goes beside the disk, not on it.
class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("BEANSTALKD_BIN");
    if (!bin) GTEST_SKIP() << "BEANSTALKD_BIN not set";
    bin_ = bin;
    if (!disk_.mounted()) GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << disk_.error();
    wal_dir_ = disk_.path() + "/wal";
    filler_ = disk_.path() + "/filler";
    log_path_ = disk_.path() + ".server.log";
    ASSERT_EQ(mkdir(wal_dir_.c_str(), 0755), 0);
    std::ofstream out(filler_, std::ios::binary);
    out << std::string((4 << 20) - (200 << 10), 'f');
    ASSERT_TRUE(out.good());
  }
  void TearDown() override { unlink(log_path_.c_str()); }

  // The built server on loopback `port` with `args`.
  pid_t start_server(std::vector<std::string> args, int port) {
    args.insert(args.begin(), {"-l", "127.0.0.1", "-p", std::to_string(port)});
    return start_process(bin_, args, port, log_path_);
  }

  // Peeks every job in `acked` after a restart: each there, byte for byte,
  // and nothing else ready; then runs `and_then` on the restarted server.
  void expect_jobs_after_restart(const std::vector<std::string>& args,
                                 const std::vector<std::pair<std::uint64_t, std::string>>& acked,
                                 const std::function<void(Client&)>& and_then = {}) {
    const int port = free_port();
    const pid_t pid = start_server(args, port);
    ASSERT_GT(pid, 0) << read_file(log_path_);
    ProcessGuard restarted(pid);
    Client c(port);
    EXPECT_EQ(stat(c, "current-jobs-ready"), std::to_string(acked.size()));
    std::size_t lost = 0;
    for (const auto& [id, body] : acked) {
      c.send("peek " + std::to_string(id) + "\r\n");
      const std::string header = c.line();
      if (header != "FOUND " + std::to_string(id) + " " + std::to_string(body.size())) {
        ++lost;
        ADD_FAILURE() << "job " << id << " answered " << header;
        continue;
      }
      EXPECT_EQ(c.bytes(body.size() + 2), body + "\r\n") << "job " << id;
    }
    EXPECT_EQ(lost, 0u);
    if (and_then) and_then(c);
    restarted.stop(SIGTERM);
  }

  // Fills the disk with jobs of `body_size` bytes, one put at a time, until
  // one is not acknowledged at once. Jobs small enough for the reserve of
  // the file being written fill it and then puts are refused: returns
  // "OUT_OF_MEMORY". A job too large for the reserve goes to a next file the
  // disk has no room for (even once the current file gave back its unused
  // end); its reply waits until the record is written (or durable, with -f
  // 0): returns "" and that put's body in `held_body`.
  std::string fill_disk(Client& producer, std::size_t body_size,
                        std::vector<std::pair<std::uint64_t, std::string>>& acked,
                        std::string& held_body) {
    EXPECT_TRUE(producer.ok());
    for (int i = 0; i < 2000; ++i) {
      std::string body =
          std::to_string(i) + ":" + std::string(body_size - 6, static_cast<char>('a' + i % 26));
      body.resize(body_size, '.');
      producer.send("put 0 0 60 " + std::to_string(body_size) + "\r\n" + body + "\r\n");
      if (!producer.readable(1000)) {
        held_body = body;
        break;
      }
      const std::string reply = producer.line();
      if (reply == "OUT_OF_MEMORY") break;
      EXPECT_EQ(reply.rfind("INSERTED ", 0), 0u) << reply;
      if (reply.rfind("INSERTED ", 0) != 0) return reply;
      acked.emplace_back(std::stoull(reply.substr(9)), body);
    }
    EXPECT_NE(read_file(log_path_).find("No space left on device"), std::string::npos)
        << read_file(log_path_);
    return held_body.empty() ? "OUT_OF_MEMORY" : "";
  }

  SmallDisk disk_{4 << 20};
  std::string bin_, wal_dir_, filler_, log_path_;
};

// Under every sync policy: with -f 0 a put is acknowledged once its record
// is synced; with -f 50 and -F once it is written.
class FullDiskPolicy : public FullDisk, public ::testing::WithParamInterface<const char*> {
 protected:
  std::vector<std::string> args_for_policy() const {
    std::vector<std::string> args = {"-b", wal_dir_, "-s", "65536"};
    const std::string policy = GetParam();
    if (policy == "-f0") args.insert(args.end(), {"-f", "0"});
    if (policy == "-F") args.push_back("-F");
    return args;
  }

  // Starts the server with this policy's flags and `extra` (server_, on
  // port_) and fills its disk through producer_ with jobs of `body_size`
  // bytes; see fill_disk.
  std::string start_and_fill(std::size_t body_size, const std::vector<std::string>& extra = {}) {
    port_ = free_port();
    std::vector<std::string> args = args_for_policy();
    args.insert(args.end(), extra.begin(), extra.end());
    const pid_t pid = start_server(args, port_);
    EXPECT_GT(pid, 0) << read_file(log_path_);
    if (pid <= 0) return "no server";
    server_ = std::make_unique<ProcessGuard>(pid);
    producer_ = std::make_unique<Client>(port_);
    return fill_disk(*producer_, body_size, acked_, held_body_);
  }

  // Deletes the oldest `count` acknowledged jobs through `c`, each DELETED.
  void delete_oldest(Client& c, std::size_t count) {
    ASSERT_LE(count, acked_.size());
    for (std::size_t i = 0; i < count; ++i) {
      c.send("delete " + std::to_string(acked_[i].first) + "\r\n");
      ASSERT_EQ(c.line(), "DELETED") << "job " << acked_[i].first;
    }
    acked_.erase(acked_.begin(), acked_.begin() + static_cast<std::ptrdiff_t>(count));
  }

  int port_ = 0;
  std::unique_ptr<ProcessGuard> server_;
  std::unique_ptr<Client> producer_;
  std::vector<std::pair<std::uint64_t, std::string>> acked_;
  std::string held_body_;
};

// 1,000-byte jobs (the reserve of a 64 KiB file is 8 KiB): the put that
// finds no room for the next file is the last one accepted. From then on
// puts are refused; a consumer that deletes the oldest jobs makes their
// files obsolete, their removal frees the disk, and the log takes every
// change again by itself, with no space freed by hand.
TEST_P(FullDiskPolicy, ConsumersDrainAFullLogAndFreeItsDisk) {
  const int metrics_port = free_port();
  ASSERT_EQ(start_and_fill(1000, {"--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port)}),
            "OUT_OF_MEMORY");
  ASSERT_GT(acked_.size(), 50u);
  EXPECT_NE(read_file(log_path_).find("refusing puts"), std::string::npos) << read_file(log_path_);
  // Operators see why: not ready, the log full (not failed).
  const std::string not_ready = http_get(metrics_port, "/readyz");
  EXPECT_EQ(not_ready.substr(0, 12), "HTTP/1.0 503") << not_ready;
  EXPECT_NE(not_ready.find("log full: "), std::string::npos) << not_ready;
  const std::string full_metrics = http_get(metrics_port, "/metrics");
  EXPECT_NE(full_metrics.find("\nbeanstalkd_wal_full 1\n"), std::string::npos);
  EXPECT_NE(full_metrics.find("\nbeanstalkd_wal_healthy 0\n"), std::string::npos);

  // Full: puts are refused and leave nothing half done; reads and reserves
  // keep working, and so do releases, burials and kicks, as in the
  // reference (they go into the reserve's first half).
  Client consumer(port_);
  EXPECT_EQ(put(consumer, "one more"), "OUT_OF_MEMORY");
  const std::string first = std::to_string(acked_.front().first);
  consumer.send("peek " + first + "\r\n");
  EXPECT_EQ(consumer.line(), "FOUND " + first + " 1000");
  EXPECT_EQ(consumer.bytes(1002), acked_.front().second + "\r\n");
  for (const char* change : {"release", "bury"}) {
    consumer.send("reserve-with-timeout 0\r\n");
    ASSERT_EQ(consumer.line(), "RESERVED " + first + " 1000");
    EXPECT_EQ(consumer.bytes(1002), acked_.front().second + "\r\n");
    consumer.send(std::string(change) + " " + first +
                  (change == std::string("release") ? " 0 0\r\n" : " 0\r\n"));
    EXPECT_EQ(consumer.line(), change == std::string("release") ? "RELEASED" : "BURIED");
  }
  consumer.send("kick 10\r\n");
  EXPECT_EQ(consumer.line(), "KICKED 1");
  // Changes take the first quarter of the reserve (2 KiB here) and are
  // then refused; a release that keeps the priority and adds no delay only
  // counts, and is still taken.
  int priority = 0;  // the job's
  std::string release_reply;
  for (int round = 0; round < 100; ++round) {
    consumer.send("reserve-job " + first + "\r\n");
    ASSERT_EQ(consumer.line(), "RESERVED " + first + " 1000");
    consumer.bytes(1002);
    consumer.send("release " + first + " " + std::to_string(1 - priority) + " 0\r\n");
    release_reply = consumer.line();
    if (release_reply != "RELEASED") break;
    priority = 1 - priority;
  }
  ASSERT_EQ(release_reply, "OUT_OF_MEMORY");  // the job is still reserved
  consumer.send("release " + first + " " + std::to_string(priority) + " 0\r\n");
  EXPECT_EQ(consumer.line(), "RELEASED");
  consumer.send("reserve-job " + first + "\r\n");
  ASSERT_EQ(consumer.line(), "RESERVED " + first + " 1000");
  consumer.bytes(1002);
  consumer.send("bury " + first + " 0\r\n");
  EXPECT_EQ(consumer.line(), "OUT_OF_MEMORY");
  consumer.send("release " + first + " " + std::to_string(priority) + " 0\r\n");
  EXPECT_EQ(consumer.line(), "RELEASED");

  // The consumer drains the oldest half; the log frees their files and
  // creates its next one.
  ASSERT_NO_FATAL_FAILURE(delete_oldest(consumer, acked_.size() / 2));
  std::string reply;
  for (int attempt = 0; attempt < 50; ++attempt) {
    reply = put(*producer_, "after the drain");
    if (reply != "OUT_OF_MEMORY") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(reply.rfind("INSERTED ", 0), 0u) << reply << "\n" << read_file(log_path_);
  acked_.emplace_back(std::stoull(reply.substr(9)), "after the drain");
  EXPECT_NE(read_file(log_path_).find("writable again"), std::string::npos) << read_file(log_path_);
  EXPECT_EQ(http_get(metrics_port, "/readyz").substr(0, 12), "HTTP/1.0 200");
  EXPECT_NE(http_get(metrics_port, "/metrics").find("\nbeanstalkd_wal_full 0\n"),
            std::string::npos);
  server_->stop(SIGTERM);

  // After a restart every acknowledged job is there, byte for byte, and
  // none of the deleted ones.
  expect_jobs_after_restart(args_for_policy(), acked_);
}

// Deletes and releases accepted while the log is full are recorded: a stop
// before the disk has room again loses nothing, the deleted jobs stay
// deleted and the released one keeps its new priority.
TEST_P(FullDiskPolicy, ChangesAcceptedWhileFullSurviveAStop) {
  ASSERT_EQ(start_and_fill(1000), "OUT_OF_MEMORY");
  ASSERT_GT(acked_.size(), 50u);
  Client consumer(port_);
  ASSERT_NO_FATAL_FAILURE(delete_oldest(consumer, 5));
  const std::string first = std::to_string(acked_.front().first);
  consumer.send("reserve-with-timeout 0\r\n");
  ASSERT_EQ(consumer.line(), "RESERVED " + first + " 1000");
  consumer.bytes(1002);
  consumer.send("release " + first + " 4321 0\r\n");
  ASSERT_EQ(consumer.line(), "RELEASED");
  server_->stop(SIGTERM);
  EXPECT_EQ(read_file(log_path_).find("not written"), std::string::npos) << read_file(log_path_);
  // Room for the restart's new log file.
  ASSERT_EQ(unlink(filler_.c_str()), 0);
  expect_jobs_after_restart(args_for_policy(), acked_, [&](Client& c) {
    c.send("stats-job " + first + "\r\n");
    const std::string header = c.line();
    ASSERT_EQ(header.rfind("OK ", 0), 0u) << header;
    const std::string yaml = c.bytes(std::stoul(header.substr(3)) + 2);
    EXPECT_NE(yaml.find("\npri: 4321\n"), std::string::npos) << yaml;
  });
}

// 60,000-byte jobs, too large for a file's reserve, one to a file: the put
// that finds no room for the next file is not acknowledged until its record
// is written,
// changes (deletes too: the log failed) are refused meanwhile, and once
// space returns the put is answered and changes accepted, without a restart.
TEST_P(FullDiskPolicy, ARecordTheDiskCannotTakeIsAcknowledgedOnlyOnceSpaceReturns) {
  ASSERT_EQ(start_and_fill(60000), "");
  ASSERT_GE(acked_.size(), 2u);

  Client other(port_);
  const std::string first = std::to_string(acked_.front().first);
  EXPECT_EQ(put(other, "one more"), "OUT_OF_MEMORY");
  other.send("delete " + first + "\r\n");
  EXPECT_EQ(other.line(), "OUT_OF_MEMORY");
  other.send("peek " + first + "\r\n");
  EXPECT_EQ(other.line(), "FOUND " + first + " 60000");
  EXPECT_EQ(other.bytes(60002), acked_.front().second + "\r\n");

  ASSERT_EQ(unlink(filler_.c_str()), 0);
  ASSERT_TRUE(producer_->readable(5000)) << read_file(log_path_);
  const std::string late = producer_->line();
  ASSERT_EQ(late.rfind("INSERTED ", 0), 0u) << late;
  acked_.emplace_back(std::stoull(late.substr(9)), held_body_);
  const std::string reply = put(other, "after space returned");
  ASSERT_EQ(reply.rfind("INSERTED ", 0), 0u) << reply;
  acked_.emplace_back(std::stoull(reply.substr(9)), "after space returned");
  other.send("delete " + first + "\r\n");
  EXPECT_EQ(other.line(), "DELETED");
  acked_.erase(acked_.begin());
  EXPECT_NE(read_file(log_path_).find("writable again"), std::string::npos) << read_file(log_path_);
  server_->stop(SIGTERM);

  expect_jobs_after_restart(args_for_policy(), acked_);
}

// Stopped while a record is unwritten: that change was never acknowledged,
// the log says it is lost, and everything acknowledged comes back.
TEST_P(FullDiskPolicy, AStopWhileFullLosesOnlyWhatWasNeverAcknowledged) {
  ASSERT_EQ(start_and_fill(60000), "");
  server_->stop(SIGTERM);
  EXPECT_EQ(producer_->line(), "");  // closed without an answer
  EXPECT_NE(read_file(log_path_).find("the last 1 changes were not written"), std::string::npos)
      << read_file(log_path_);
  ASSERT_EQ(unlink(filler_.c_str()), 0);
  expect_jobs_after_restart(args_for_policy(), acked_);
}

std::string policy_name(const ::testing::TestParamInfo<const char*>& policy) {
  const std::string flag = policy.param;
  return flag == "-F" ? "NeverSynced" : flag == "-f0" ? "SyncedBeforeReplies" : "SyncedEvery50ms";
}
INSTANTIATE_TEST_SUITE_P(Policies, FullDiskPolicy, ::testing::Values("-f0", "-f50", "-F"),
                         policy_name);

// With the default -f 50, a body of a mebibyte or more is written by the
// sync thread after the loop wrote its placeholder: there the full disk is
// met off the loop. The put's INSERTED waits for that write, other changes
// are refused meanwhile, and once space returns the record is written again
// and the put answered.
TEST_F(FullDisk, ALargeBodyThatDoesNotFitIsAnsweredOnceSpaceReturns) {
  const std::vector<std::string> args = {"-b", wal_dir_, "-s", "65536", "-z", "2097152"};
  const int port = free_port();
  const pid_t pid = start_server(args, port);
  ASSERT_GT(pid, 0) << read_file(log_path_);
  ProcessGuard server(pid);
  std::vector<std::pair<std::uint64_t, std::string>> acked;
  Client producer(port);
  const std::string small = "a small job before the large one";
  std::string reply = put(producer, small);
  ASSERT_EQ(reply.rfind("INSERTED ", 0), 0u) << reply;
  acked.emplace_back(std::stoull(reply.substr(9)), small);

  std::string large(1500000, 'L');
  large.replace(0, 5, "large");
  producer.send("put 0 0 60 " + std::to_string(large.size()) + "\r\n" + large + "\r\n");
  EXPECT_FALSE(producer.readable(1000)) << producer.line();
  EXPECT_NE(read_file(log_path_).find("No space left on device"), std::string::npos)
      << read_file(log_path_);
  Client other(port);
  EXPECT_EQ(put(other, "refused while full"), "OUT_OF_MEMORY");

  ASSERT_EQ(unlink(filler_.c_str()), 0);
  ASSERT_TRUE(producer.readable(5000)) << read_file(log_path_);
  reply = producer.line();
  ASSERT_EQ(reply.rfind("INSERTED ", 0), 0u) << reply;
  acked.emplace_back(std::stoull(reply.substr(9)), large);
  reply = put(other, "after space returned");
  ASSERT_EQ(reply.rfind("INSERTED ", 0), 0u) << reply;
  acked.emplace_back(std::stoull(reply.substr(9)), "after space returned");
  server.stop(SIGTERM);

  expect_jobs_after_restart(args, acked);
}

}  // namespace
