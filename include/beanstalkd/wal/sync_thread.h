// Runs fdatasync off the event loop, so the loop keeps reading and
// answering while the disk works. Completion is signalled on an eventfd
// that the loop watches.
//
// Syncs chain: records written while a sync runs are covered by the next
// one, which the thread starts as soon as the running one returns, without
// waiting for the loop to notice the first. The disk then syncs back to
// back under load, and no wake-up of the loop sits between two syncs.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "beanstalkd/wal/file_system.h"

namespace beanstalkd::wal {

class SyncThread {
 public:
  SyncThread();
  ~SyncThread();
  SyncThread(const SyncThread&) = delete;
  SyncThread& operator=(const SyncThread&) = delete;

  // Readable when a sync has finished; collect() the results then.
  int event_fd() const { return event_fd_; }

  // Asks for `file` to be synced up to record `sequence` (everything
  // written to it so far). Switching to another file requires idle().
  void request(WritableFile* file, std::uint64_t sequence);

  struct Result {
    std::uint64_t sequence = 0;           // durable up to here (0: nothing new)
    int error = 0;                        // a sync failed after that point
    std::vector<std::int64_t> durations;  // nanoseconds, one per finished sync
  };
  // What finished since the last call; never blocks. After an error the
  // thread syncs nothing more until asked again.
  Result collect();
  // Waits until no sync runs or is wanted, then collect()s.
  Result wait_idle();
  bool idle();

 private:
  void run();
  bool idle_locked() const { return !syncing_ && (error_ != 0 || target_ <= done_); }
  Result collect_locked();

  int event_fd_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  // Under mutex_.
  bool stop_ = false;
  WritableFile* file_ = nullptr;
  std::uint64_t target_ = 0;  // wanted durable up to here
  std::uint64_t done_ = 0;    // durable up to here
  std::uint64_t reported_ = 0;
  bool syncing_ = false;
  int error_ = 0;
  std::vector<std::int64_t> durations_;
};

}  // namespace beanstalkd::wal
