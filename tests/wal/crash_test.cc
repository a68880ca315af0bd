// kill -9 the server in the middle of concurrent puts and deletes, restart
// it on the same log directory, and check that every acknowledged put is
// there (unless its delete was acknowledged) and every acknowledged delete
// is gone, and that no restart reports a log file missing: files the log
// removed as obsolete, a kill in the middle of their removal included, are
// never taken for lost ones. Rounds alternate -f 0 and the default -f 50 (kill -9 keeps the
// page cache, so a reply must never leave before its record is written),
// and one producer puts bodies of over a mebibyte, which the log writes in
// two steps off the event loop (PlacedRecord). Bounded: a fixed number of
// rounds, each well under a second of load.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "process_client.h"

namespace {

using namespace beanstalkd::testing;

struct Ledger {
  std::mutex mutex;
  std::map<std::uint64_t, std::string> acked_puts;  // id -> body
  std::map<std::uint64_t, bool> acked_deletes;
  // A delete sent but not answered before the kill may or may not have
  // happened: such a job is allowed to be either present or gone.
  std::map<std::uint64_t, bool> sent_deletes;
};

TEST(CrashTest, NoAcknowledgedChangeIsLostAcrossKillNine) {
  const char* bin = std::getenv("BEANSTALKD_BIN");
  if (!bin) GTEST_SKIP() << "BEANSTALKD_BIN not set";
  char tmpl[] = "/tmp/crash-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::mt19937 rng(12345);
  Ledger ledger;
  constexpr int kRounds = 6;
  std::size_t checked_present = 0, checked_gone = 0, lost = 0, resurrected = 0;
  const std::string log_path = dir + ".log";
  std::uint64_t oldest_file = 0;  // the log's oldest file at the last restart

  // One start more than rounds: the last only checks what the last kill left.
  for (int round = 0; round <= kRounds; ++round) {
    const int port = free_port();
    pid_t pid = start_server(bin, port, dir, round % 2 == 0 ? "0" : "50", log_path);
    ASSERT_GT(pid, 0) << "server did not start in round " << round;
    EXPECT_EQ(read_file(log_path).find("are missing"), std::string::npos)
        << "round " << round << ":\n"
        << read_file(log_path);

    // Everything acknowledged so far must be right after the restart.
    {
      Client c(port);
      std::lock_guard lock(ledger.mutex);
      for (const auto& [id, body] : ledger.acked_puts) {
        bool deleted = ledger.acked_deletes.count(id) > 0;
        c.send("peek " + std::to_string(id) + "\r\n");
        std::string reply = c.line();
        if (!deleted && ledger.sent_deletes.count(id)) {
          if (reply.rfind("FOUND ", 0) == 0) c.bytes(body.size() + 2);
          continue;  // either outcome is right
        }
        if (deleted) {
          ++checked_gone;
          if (reply != "NOT_FOUND") ++resurrected;
        } else {
          ++checked_present;
          std::string expect = "FOUND " + std::to_string(id) + " " + std::to_string(body.size());
          if (reply != expect) {
            ++lost;
            ADD_FAILURE() << "round " << round << ": job " << id << " answered " << reply;
          } else {
            std::string got = c.bytes(body.size() + 2);
            if (got != body + "\r\n") ++lost;
          }
        }
      }
      ASSERT_TRUE(c.ok());
      oldest_file = std::stoull(stat(c, "binlog-oldest-index"));
    }
    if (round == kRounds) {
      kill_process(pid);
      break;
    }

    // Load: producers put, consumers reserve and delete, until the kill.
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int p = 0; p < 5; ++p) {
      threads.emplace_back([&, p] {
        Client c(port);
        // Producer 4's bodies are 1 to 3 MiB.
        const bool large = p == 4;
        for (int seq = 0; !stop && c.ok() && seq < (large ? 200 : 5000); ++seq) {
          // Long enough (from 23 bytes) that a restart leaves them in the log.
          std::string body =
              "round " + std::to_string(round) + " producer " + std::to_string(p) + " put " +
              std::to_string(seq) +
              std::string(large
                              ? (std::size_t{1} << 20) * static_cast<std::size_t>(1 + seq % 3) + 17
                              : static_cast<std::size_t>(seq % 50),
                          '.');
          c.send("put 100 0 60 " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
          std::string reply = c.line();
          if (reply.rfind("INSERTED ", 0) != 0) break;
          std::lock_guard lock(ledger.mutex);
          ledger.acked_puts[std::stoull(reply.substr(9))] = body;
        }
      });
    }
    for (int w = 0; w < 2; ++w) {
      threads.emplace_back([&] {
        Client c(port);
        while (!stop && c.ok()) {
          c.send("reserve-with-timeout 1\r\n");
          std::string reply = c.line();
          if (reply.rfind("RESERVED ", 0) != 0) continue;
          std::uint64_t id = std::stoull(reply.substr(9));
          std::size_t size = std::stoul(reply.substr(reply.find(' ', 9) + 1));
          c.bytes(size + 2);
          {
            std::lock_guard lock(ledger.mutex);
            ledger.sent_deletes[id] = true;
          }
          c.send("delete " + std::to_string(id) + "\r\n");
          if (c.line() == "DELETED") {
            std::lock_guard lock(ledger.mutex);
            ledger.acked_deletes[id] = true;
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 500));
    kill_process(pid);
    stop = true;
    for (auto& t : threads) t.join();
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove(log_path);
  std::size_t large = 0;
  for (const auto& [id, body] : ledger.acked_puts)
    large += body.size() > (std::size_t{1} << 20) ? 1u : 0u;
  std::printf(
      "crash test: %d rounds, %zu acknowledged puts (%zu over 1 MiB), %zu acknowledged deletes; "
      "%zu checked present, %zu checked gone; lost %zu, resurrected %zu; oldest log file %llu\n",
      kRounds, ledger.acked_puts.size(), large, ledger.acked_deletes.size(), checked_present,
      checked_gone, lost, resurrected, static_cast<unsigned long long>(oldest_file));
  EXPECT_GT(large, 5u);
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(resurrected, 0u);
  EXPECT_GT(ledger.acked_puts.size(), 100u);
  EXPECT_GT(ledger.acked_deletes.size(), 10u);
  EXPECT_GT(oldest_file, 1u);  // files were removed along the way
}

}  // namespace
