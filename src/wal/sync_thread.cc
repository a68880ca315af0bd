#include "beanstalkd/wal/sync_thread.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cassert>
#include <chrono>
#include <utility>

namespace beanstalkd::wal {

SyncThread::SyncThread() : event_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
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

void SyncThread::request(WritableFile* file, std::uint64_t sequence) {
  {
    std::lock_guard lock(mutex_);
    if (file != file_) {
      assert(idle_locked());
      file_ = file;
    }
    if (sequence > target_) target_ = sequence;
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

SyncThread::Result SyncThread::collect_locked() {
  Result result;
  if (done_ > reported_) result.sequence = reported_ = done_;
  result.durations = std::move(durations_);
  durations_.clear();
  if (error_ != 0) {
    result.error = std::exchange(error_, 0);
    // The loop rewrites the unsynced records and asks again; the old
    // requests are void.
    target_ = done_;
  }
  // Clear the eventfd's count; nothing to read is fine.
  std::uint64_t drained;
  [[maybe_unused]] ssize_t n = ::read(event_fd_, &drained, sizeof drained);
  return result;
}

void SyncThread::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || (error_ == 0 && target_ > done_); });
    if (stop_) return;
    WritableFile* file = file_;
    const std::uint64_t sequence = target_;
    syncing_ = true;
    lock.unlock();
    auto started = std::chrono::steady_clock::now();
    int error = file->sync();
    auto took = std::chrono::steady_clock::now() - started;
    lock.lock();
    syncing_ = false;
    durations_.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count());
    if (error != 0) {
      error_ = error;
    } else {
      done_ = sequence;
    }
    cv_.notify_all();
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(event_fd_, &one, sizeof one);
  }
}

}  // namespace beanstalkd::wal
