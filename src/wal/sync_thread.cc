#include "beanstalkd/wal/sync_thread.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <utility>

#include <spdlog/spdlog.h>

namespace beanstalkd::wal {

SyncThread::SyncThread(FileSystem& fs, std::string dir)
    : fs_(fs), dir_(std::move(dir)), event_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  thread_ = std::thread([this] { run(); });
}

SyncThread::~SyncThread() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  ::close(event_fd_);
}

void SyncThread::request(std::shared_ptr<WritableFile> file, std::uint64_t sequence,
                         bool new_file) {
  {
    std::lock_guard lock(mutex_);
    if (error_ != 0) return;
    // Joins the last queued sync of the same file unless that one already
    // runs: the records it would cover may have been written after it began.
    const bool back_runs = running_ && tasks_.size() == 1;
    if (!tasks_.empty() && !back_runs && tasks_.back().file == file && !tasks_.back().placed) {
      Task& back = tasks_.back();
      back.sequence = std::max(back.sequence, sequence);
      back.new_file = back.new_file || new_file;
    } else {
      tasks_.push_back(Task{std::move(file), sequence, new_file, nullptr, {}, {}});
    }
  }
  cv_.notify_all();
}

void SyncThread::place(std::shared_ptr<WritableFile> file,
                       std::shared_ptr<const PlacedRecord> record) {
  {
    std::lock_guard lock(mutex_);
    if (error_ != 0) return;
    const std::uint64_t sequence = record->sequence;
    tasks_.push_back(Task{std::move(file), sequence, false, std::move(record), {}, {}});
  }
  cv_.notify_all();
}

void SyncThread::remove(std::vector<std::string> paths, OldestFileMark mark) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(Task{nullptr, 0, false, nullptr, std::move(paths), std::move(mark)});
  }
  cv_.notify_all();
}

SyncThread::Result SyncThread::collect() {
  std::lock_guard lock(mutex_);
  return collect_locked();
}

SyncThread::Result SyncThread::wait_idle() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [this] { return idle_locked(); });
  return collect_locked();
}

bool SyncThread::idle() {
  std::lock_guard lock(mutex_);
  return idle_locked();
}

void SyncThread::drop_queued_syncs_locked() {
  // Syncs and fills. The running task (the front, while running_) is the
  // thread's to finish.
  auto first = tasks_.begin() + (running_ ? 1 : 0);
  tasks_.erase(std::remove_if(first, tasks_.end(), [](const Task& t) { return t.file != nullptr; }),
               tasks_.end());
}

SyncThread::Result SyncThread::collect_locked() {
  Result result;
  if (done_ > reported_) result.sequence = reported_ = done_;
  if (placed_ > reported_placed_) result.placed = reported_placed_ = placed_;
  result.durations = std::move(durations_);
  durations_.clear();
  result.removed = std::exchange(removed_, 0);
  if (error_ != 0) {
    result.error = std::exchange(error_, 0);
    // The loop rewrites the unsynced records and asks again; a request
    // that slipped in before it learned of the failure is void.
    drop_queued_syncs_locked();
  }
  // Clear the eventfd's count; nothing to read is fine.
  std::uint64_t drained;
  [[maybe_unused]] ssize_t n = ::read(event_fd_, &drained, sizeof drained);
  return result;
}

void SyncThread::perform(const Task& task, int& error, std::int64_t& nanos,
                         std::uint64_t& removed) {
  if (!task.file) {
    if (task.mark.write(task.paths.size()) != 0) return;
    for (const std::string& path : task.paths) {
      const int rc = fs_.remove(path);
      if (rc == 0 || rc == ENOENT) {
        ++removed;
      } else {
        spdlog::warn("cannot remove obsolete log file {}: {}", path, std::strerror(rc));
      }
    }
    if (const int rc = fs_.sync_dir(dir_); rc != 0)
      spdlog::warn("cannot sync log directory {} after removing files: {}", dir_,
                   std::strerror(rc));
    return;
  }
  if (task.placed) {
    error = fill_placed_record(*task.file, *task.placed);
    return;
  }
  const auto started = std::chrono::steady_clock::now();
  error = task.file->sync();
  if (error == 0 && task.new_file) error = fs_.sync_dir(dir_);
  nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                               started)
              .count();
}

void SyncThread::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    // After a failure only removals run, until the loop collects it.
    auto runnable = [this] {
      return !tasks_.empty() && (error_ == 0 || tasks_.front().file == nullptr);
    };
    cv_.wait(lock, [&] { return stop_ || runnable(); });
    if (!runnable()) return;  // stopping, with nothing left to do
    // Not copied (a copy allocates, which this thread must not fail at):
    // the front stays put while it runs (drop_queued_syncs_locked), and
    // the loop's push_back moves no element of a deque.
    const Task& task = tasks_.front();
    running_ = true;
    lock.unlock();
    int error = 0;
    std::int64_t nanos = -1;
    std::uint64_t removed = 0;
    perform(task, error, nanos, removed);
    lock.lock();
    running_ = false;
    if (error != 0) {
      error_ = error;
    } else if (task.placed) {
      placed_ = std::max(placed_, task.sequence);
    } else if (task.file) {
      done_ = std::max(done_, task.sequence);
    }
    tasks_.pop_front();
    if (error != 0) drop_queued_syncs_locked();
    try {
      if (nanos >= 0) durations_.push_back(nanos);
    } catch (const std::bad_alloc&) {
      // Out of memory, the latency histogram misses this sync.
    }
    removed_ += removed;
    cv_.notify_all();
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(event_fd_, &one, sizeof one);
  }
}

}  // namespace beanstalkd::wal
