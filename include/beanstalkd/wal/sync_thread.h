// Runs fdatasync off the event loop, one at a time, so the loop keeps
// reading and answering while the disk works. Completion is signalled on an
// eventfd that the loop watches.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "beanstalkd/wal/file_system.h"

namespace beanstalkd::wal {

class SyncThread {
 public:
  SyncThread();
  ~SyncThread();
  SyncThread(const SyncThread&) = delete;
  SyncThread& operator=(const SyncThread&) = delete;

  // Readable when a sync has finished; take() the result then.
  int event_fd() const { return event_fd_; }
  bool busy() const { return busy_; }

  // Starts syncing `file`, which covers records up to `sequence`.
  // Precondition: !busy().
  void start(WritableFile* file, std::uint64_t sequence);

  struct Result {
    std::uint64_t sequence = 0;
    int error = 0;
    std::int64_t nanos = 0;  // how long the sync took
  };
  // Collects the finished sync's result. Precondition: busy().
  // Blocks until it finishes if it has not yet.
  Result take();

 private:
  void run();

  int event_fd_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool busy_ = false;  // main thread's view: a sync was started and not taken
  // Shared with the worker, under mutex_.
  WritableFile* file_ = nullptr;
  std::uint64_t sequence_ = 0;
  bool requested_ = false;
  bool finished_ = false;
  Result result_;
};

}  // namespace beanstalkd::wal
