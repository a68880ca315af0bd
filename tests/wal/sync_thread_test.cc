// The background syncer: syncs chain without the loop, results are merged,
// and a failure stops the chain until the loop asks again.
#include "beanstalkd/wal/sync_thread.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

namespace beanstalkd::wal {
namespace {

using namespace std::chrono_literals;

// A file whose sync() blocks until the test lets it go, and fails on demand.
class GatedFile final : public WritableFile {
 public:
  int append(const char*, std::size_t) override { return 0; }
  int truncate(std::uint64_t) override { return 0; }
  int preallocate(std::uint64_t) override { return 0; }
  int write_zeros(std::uint64_t, std::uint64_t) override { return 0; }
  std::uint64_t position() const override { return 0; }
  int read_at(std::uint64_t, char*, std::size_t) override { return EIO; }

  int sync() override {
    std::unique_lock lock(mutex_);
    ++started_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return released_ > 0; });
    --released_;
    return fail_next_ ? std::exchange(fail_next_, 0) : 0;
  }

  // Waits until `n` syncs have started in all.
  bool wait_started(int n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, 5s, [&] { return started_ >= n; });
  }
  void release(int error = 0) {
    std::lock_guard lock(mutex_);
    ++released_;
    fail_next_ = error;
    cv_.notify_all();
  }
  int started() {
    std::lock_guard lock(mutex_);
    return started_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int started_ = 0;
  int released_ = 0;
  int fail_next_ = 0;
};

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 5000) == 1;
}

TEST(SyncThreadTest, RecordsWrittenDuringASyncGoInTheNextWithoutBeingAskedTwice) {
  SyncThread syncer;
  GatedFile file;
  syncer.request(&file, 1);
  ASSERT_TRUE(file.wait_started(1));
  // While the first sync runs, the loop writes records 2 and 3.
  syncer.request(&file, 2);
  syncer.request(&file, 3);
  EXPECT_FALSE(syncer.idle());
  file.release();
  // The second sync starts on its own, covering both.
  ASSERT_TRUE(file.wait_started(2));
  file.release();
  SyncThread::Result result = syncer.wait_idle();
  EXPECT_EQ(result.sequence, 3u);
  EXPECT_EQ(result.error, 0);
  EXPECT_EQ(result.durations.size(), 2u);
  EXPECT_EQ(file.started(), 2);
  EXPECT_TRUE(syncer.idle());
}

TEST(SyncThreadTest, TheEventFdSignalsEachFinishedSync) {
  SyncThread syncer;
  GatedFile file;
  syncer.request(&file, 7);
  ASSERT_TRUE(file.wait_started(1));
  file.release();
  ASSERT_TRUE(readable(syncer.event_fd()));
  SyncThread::Result result = syncer.collect();
  EXPECT_EQ(result.sequence, 7u);
  // Nothing new since: an empty result.
  result = syncer.collect();
  EXPECT_EQ(result.sequence, 0u);
  EXPECT_TRUE(result.durations.empty());
}

TEST(SyncThreadTest, AFailureStopsTheChainUntilAskedAgain) {
  SyncThread syncer;
  GatedFile file;
  syncer.request(&file, 1);
  ASSERT_TRUE(file.wait_started(1));
  syncer.request(&file, 2);
  file.release(5);  // EIO
  SyncThread::Result result = syncer.wait_idle();
  EXPECT_EQ(result.error, 5);
  EXPECT_EQ(result.sequence, 0u);  // nothing became durable
  // The pending request for 2 died with the failure: no sync started.
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(file.started(), 1);
  // Asked again (after the loop rewrote the records), it syncs.
  syncer.request(&file, 2);
  ASSERT_TRUE(file.wait_started(2));
  file.release();
  result = syncer.wait_idle();
  EXPECT_EQ(result.error, 0);
  EXPECT_EQ(result.sequence, 2u);
}

TEST(SyncThreadTest, SuccessesBeforeAFailureAreReported) {
  SyncThread syncer;
  GatedFile file;
  syncer.request(&file, 1);
  ASSERT_TRUE(file.wait_started(1));
  syncer.request(&file, 2);
  file.release();  // 1 is durable
  ASSERT_TRUE(file.wait_started(2));
  file.release(28);  // ENOSPC while syncing 2
  SyncThread::Result result = syncer.wait_idle();
  EXPECT_EQ(result.sequence, 1u);
  EXPECT_EQ(result.error, 28);
  EXPECT_EQ(result.durations.size(), 2u);
}

}  // namespace
}  // namespace beanstalkd::wal
