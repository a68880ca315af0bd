// The background syncer: syncs chain without the loop, results are merged,
// work is done in the order asked, and a failure stops the syncs until the
// loop asks again.
#include "beanstalkd/wal/sync_thread.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace beanstalkd::wal {
namespace {

using namespace std::chrono_literals;

// A file whose sync() blocks until the test lets it go, and fails on demand.
class GatedFile final : public WritableFile {
 public:
  int append(const char*, std::size_t) override { return 0; }
  void skip(std::uint64_t) override {}
  int write_at(std::uint64_t, const char*, std::size_t) override { return 0; }
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

// Records the directory syncs and removals the thread makes, in order with
// the files' syncs (`log`).
class RecordingFs final : public FileSystem {
 public:
  int create(const std::string&, std::unique_ptr<WritableFile>&) override { return ENOSYS; }
  int read_file(const std::string&, std::string&) override { return ENOSYS; }
  int open_for_read(const std::string&, std::unique_ptr<ReadableFile>&) override { return ENOSYS; }
  int truncate_file(const std::string&, std::uint64_t) override { return ENOSYS; }
  int list_dir(const std::string&, std::vector<std::string>&) override { return ENOSYS; }
  int rename(const std::string&, const std::string&) override { return ENOSYS; }
  int make_dir(const std::string&) override { return ENOSYS; }
  int remove(const std::string& path) override {
    note("remove " + path);
    return path == "busy" ? EBUSY : 0;
  }
  int sync_dir(const std::string& dir) override {
    note("sync_dir " + dir);
    return 0;
  }
  void note(const std::string& what) {
    std::lock_guard lock(mutex_);
    log_.push_back(what);
  }
  std::vector<std::string> log() {
    std::lock_guard lock(mutex_);
    return log_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> log_;
};

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 5000) == 1;
}

TEST(SyncThreadTest, RecordsWrittenDuringASyncGoInTheNextWithoutBeingAskedTwice) {
  PosixFileSystem fs;
  SyncThread syncer(fs, "/tmp");
  auto file_ptr = std::make_shared<GatedFile>();
  GatedFile& file = *file_ptr;
  syncer.request(file_ptr, 1, false);
  ASSERT_TRUE(file.wait_started(1));
  // While the first sync runs, the loop writes records 2 and 3.
  syncer.request(file_ptr, 2, false);
  syncer.request(file_ptr, 3, false);
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
  PosixFileSystem fs;
  SyncThread syncer(fs, "/tmp");
  auto file_ptr = std::make_shared<GatedFile>();
  GatedFile& file = *file_ptr;
  syncer.request(file_ptr, 7, false);
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
  PosixFileSystem fs;
  SyncThread syncer(fs, "/tmp");
  auto file_ptr = std::make_shared<GatedFile>();
  GatedFile& file = *file_ptr;
  syncer.request(file_ptr, 1, false);
  ASSERT_TRUE(file.wait_started(1));
  syncer.request(file_ptr, 2, false);
  file.release(5);  // EIO
  SyncThread::Result result = syncer.wait_idle();
  EXPECT_EQ(result.error, 5);
  EXPECT_EQ(result.sequence, 0u);  // nothing became durable
  // The pending request for 2 died with the failure: no sync started.
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(file.started(), 1);
  // Asked again (after the loop rewrote the records), it syncs.
  syncer.request(file_ptr, 2, false);
  ASSERT_TRUE(file.wait_started(2));
  file.release();
  result = syncer.wait_idle();
  EXPECT_EQ(result.error, 0);
  EXPECT_EQ(result.sequence, 2u);
}

TEST(SyncThreadTest, SuccessesBeforeAFailureAreReported) {
  PosixFileSystem fs;
  SyncThread syncer(fs, "/tmp");
  auto file_ptr = std::make_shared<GatedFile>();
  GatedFile& file = *file_ptr;
  syncer.request(file_ptr, 1, false);
  ASSERT_TRUE(file.wait_started(1));
  syncer.request(file_ptr, 2, false);
  file.release();  // 1 is durable
  ASSERT_TRUE(file.wait_started(2));
  file.release(28);  // ENOSPC while syncing 2
  SyncThread::Result result = syncer.wait_idle();
  EXPECT_EQ(result.sequence, 1u);
  EXPECT_EQ(result.error, 28);
  EXPECT_EQ(result.durations.size(), 2u);
}

// The log moves from file A to file B: A's last sync, then B's with the
// directory (B's creation), in that order, whatever the timing; B's
// records are never reported durable before A's.
TEST(SyncThreadTest, FilesAreSyncedInTheOrderAskedAndANewFileSyncsTheDirectory) {
  RecordingFs fs;
  SyncThread syncer(fs, "dir");
  auto a = std::make_shared<GatedFile>();
  auto b = std::make_shared<GatedFile>();
  syncer.request(a, 10, false);
  ASSERT_TRUE(a->wait_started(1));
  syncer.request(b, 12, true);
  syncer.request(b, 15, false);  // joins the queued sync of B
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(b->started(), 0);  // waits for A
  EXPECT_EQ(syncer.collect().sequence, 0u);
  a->release();
  ASSERT_TRUE(b->wait_started(1));
  EXPECT_EQ(syncer.collect().sequence, 10u);
  EXPECT_TRUE(fs.log().empty());
  b->release();
  SyncThread::Result result = syncer.wait_idle();
  EXPECT_EQ(result.sequence, 15u);
  EXPECT_EQ(result.durations.size(), 1u);
  EXPECT_EQ(b->started(), 1);
  EXPECT_EQ(fs.log(), std::vector<std::string>{"sync_dir dir"});
}

// The newest file, whose header records the oldest file still needed.
class MarkedFile final : public WritableFile {
 public:
  int append(const char*, std::size_t) override { return 0; }
  void skip(std::uint64_t) override {}
  int write_at(std::uint64_t offset, const char* data, std::size_t size) override {
    if (fail) return fail;
    writes.push_back(std::to_string(offset) + ":" + std::string(data, size));
    return 0;
  }
  int sync() override {
    if (fail) return fail;
    writes.emplace_back("sync");
    return 0;
  }
  int truncate(std::uint64_t) override { return 0; }
  int preallocate(std::uint64_t) override { return 0; }
  int write_zeros(std::uint64_t, std::uint64_t) override { return 0; }
  std::uint64_t position() const override { return 0; }
  int read_at(std::uint64_t, char*, std::size_t) override { return EIO; }

  std::vector<std::string> writes;  // only touched by the thread until it is idle
  int fail = 0;
};

// Removals wait for the syncs asked for before them, go on after a failed
// sync (they were safe when asked), and are counted, not failed, when a
// file cannot be removed.
TEST(SyncThreadTest, RemovalsFollowEarlierSyncsAndOutliveAFailure) {
  RecordingFs fs;
  SyncThread syncer(fs, "dir");
  auto file = std::make_shared<GatedFile>();
  syncer.request(file, 1, false);
  ASSERT_TRUE(file->wait_started(1));
  syncer.remove({"old.1", "busy"}, {std::make_shared<MarkedFile>(), "new", 2, false});
  syncer.request(file, 2, false);  // dropped by the failure below
  std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(fs.log().empty());
  file->release(EIO);
  SyncThread::Result result = syncer.wait_idle();
  EXPECT_EQ(result.error, EIO);
  EXPECT_EQ(result.sequence, 0u);
  EXPECT_EQ(result.removed, 1u);
  EXPECT_EQ(fs.log(), (std::vector<std::string>{"remove old.1", "remove busy", "sync_dir dir"}));
  EXPECT_EQ(file->started(), 1);
}

// Before removing anything, the newest file's header is told the oldest
// file still needed, and synced; if that fails nothing is removed.
TEST(SyncThreadTest, RemovalsFollowTheMarkOfTheOldestFileNeeded) {
  RecordingFs fs;
  SyncThread syncer(fs, "dir");
  auto newest = std::make_shared<MarkedFile>();
  syncer.remove({"old.1"}, {newest, "newest", 0x01020304, true});
  SyncThread::Result result = syncer.wait_idle();
  EXPECT_EQ(result.removed, 1u);
  EXPECT_EQ(newest->writes,
            (std::vector<std::string>{std::string("12:\x04\x03\x02\x01", 7), "sync"}));
  EXPECT_EQ(fs.log(), (std::vector<std::string>{"remove old.1", "sync_dir dir"}));

  newest->fail = EIO;
  syncer.remove({"old.2"}, {newest, "newest", 5, true});
  result = syncer.wait_idle();
  EXPECT_EQ(result.removed, 0u);
  EXPECT_EQ(result.error, 0);
  EXPECT_EQ(fs.log(), (std::vector<std::string>{"remove old.1", "sync_dir dir"}));
}

}  // namespace
}  // namespace beanstalkd::wal
