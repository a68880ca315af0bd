#include "beanstalkd/wal/sync_thread.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>

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

void SyncThread::start(WritableFile* file, std::uint64_t sequence) {
  {
    std::lock_guard lock(mutex_);
    file_ = file;
    sequence_ = sequence;
    requested_ = true;
    finished_ = false;
  }
  busy_ = true;
  cv_.notify_all();
}

SyncThread::Result SyncThread::take() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [this] { return finished_; });
  finished_ = false;
  busy_ = false;
  std::uint64_t drained;
  // Clear the eventfd's count; nothing to read is fine.
  [[maybe_unused]] ssize_t n = ::read(event_fd_, &drained, sizeof drained);
  return result_;
}

void SyncThread::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || requested_; });
    if (stop_) return;
    requested_ = false;
    WritableFile* file = file_;
    std::uint64_t sequence = sequence_;
    lock.unlock();
    auto started = std::chrono::steady_clock::now();
    int error = file->sync();
    auto took = std::chrono::steady_clock::now() - started;
    lock.lock();
    result_ = {sequence, error, std::chrono::duration_cast<std::chrono::nanoseconds>(took).count()};
    finished_ = true;
    cv_.notify_all();
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(event_fd_, &one, sizeof one);
  }
}

}  // namespace beanstalkd::wal
