// Runs the log's slow disk work off the event loop, so the loop keeps
// reading and answering while the disk works: fdatasync of log files, the
// directory syncs that make a new file's creation durable, the filling of
// large records (PlacedRecord), and the removal of obsolete files.
// Completion is signalled on an eventfd that the loop watches.
//
// The work is done strictly in the order it was asked for, which is what
// makes a sequence number mean "durable up to here": when the loop moves to
// a new file, the closed file's last sync is queued before any sync of the
// new one, so records in the new file are never reported durable before
// the ones in the file before it.
//
// Syncs chain: records written while a sync runs are covered by the next
// one, which the thread starts as soon as the running one returns, without
// waiting for the loop to notice the first. The disk then syncs back to
// back under load, and no wake-up of the loop sits between two syncs.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "beanstalkd/wal/file_sequence.h"
#include "beanstalkd/wal/file_system.h"
#include "beanstalkd/wal/placed_record.h"

namespace beanstalkd::wal {

class SyncThread {
 public:
  // `dir` is the log directory, synced after new files and removals.
  SyncThread(FileSystem& fs, std::string dir);
  ~SyncThread();
  SyncThread(const SyncThread&) = delete;
  SyncThread& operator=(const SyncThread&) = delete;

  // Readable when work has finished; collect() the results then.
  int event_fd() const { return event_fd_; }

  // Asks for `file` to be synced up to record `sequence` (everything
  // written to it so far), after everything asked for before. `new_file`:
  // the file was created since the directory was last synced, so the
  // directory is synced after it (its records need their file to exist).
  // Ignored between a failure and the collect() that reports it.
  void request(std::shared_ptr<WritableFile> file, std::uint64_t sequence, bool new_file);
  // Fills `record`, whose placeholder the loop has written to `file`, after
  // everything asked for before (so before any sync asked for later). A
  // failure counts as a failed sync. Ignored like request().
  void place(std::shared_ptr<WritableFile> file, std::shared_ptr<const PlacedRecord> record);
  // Writes `mark` (the oldest file the log still needs), then removes files
  // whose removal is otherwise already safe, then syncs the directory,
  // after everything asked for before. Failures are logged, not reported:
  // a file left behind costs disk space, and the next start removes it.
  void remove(std::vector<std::string> paths, OldestFileMark mark);

  struct Result {
    std::uint64_t sequence = 0;           // durable up to here (0: nothing new)
    std::uint64_t placed = 0;             // records filled up to here (0: nothing new)
    int error = 0;                        // a sync or fill failed after that point
    std::vector<std::int64_t> durations;  // nanoseconds, one per finished file sync
    std::uint64_t removed = 0;            // files removed
  };
  // What finished since the last call; never blocks. After a failed sync or
  // fill the thread drops the syncs and fills still queued (the loop writes
  // the records again and asks again) and does neither until the failure is
  // collected; removals go on.
  Result collect();
  // Waits until no work runs or is queued, then collect()s.
  Result wait_idle();
  bool idle();

 private:
  // A sync of `file` (to `sequence`), a fill of `placed` in `file`, or
  // (no file) a removal of `paths` after writing `mark`.
  struct Task {
    std::shared_ptr<WritableFile> file;
    std::uint64_t sequence = 0;
    bool new_file = false;
    std::shared_ptr<const PlacedRecord> placed;
    std::vector<std::string> paths;
    OldestFileMark mark;
  };

  void run();
  void perform(const Task& task, int& error, std::int64_t& nanos, std::uint64_t& removed);
  bool idle_locked() const { return !running_ && tasks_.empty(); }
  void drop_queued_syncs_locked();
  Result collect_locked();

  FileSystem& fs_;
  const std::string dir_;
  int event_fd_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  // Under mutex_.
  bool stop_ = false;
  std::deque<Task> tasks_;  // the front one runs while running_
  bool running_ = false;
  std::uint64_t done_ = 0;  // durable up to here
  std::uint64_t reported_ = 0;
  std::uint64_t placed_ = 0;  // records filled up to here
  std::uint64_t reported_placed_ = 0;
  int error_ = 0;
  std::vector<std::int64_t> durations_;
  std::uint64_t removed_ = 0;
};

}  // namespace beanstalkd::wal
