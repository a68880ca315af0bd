// A FileSystem over the real one that fails on demand and simulates power
// loss: it remembers how much of each file was synced, and power_loss()
// cuts every file back to that, dropping whatever was only in the page cache.
//
// The log's sync thread syncs and removes files while the test's thread
// writes them: what both touch is atomic or under mutex_.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "beanstalkd/wal/file_system.h"

namespace beanstalkd::wal::testing {

class FaultInjectionFs final : public FileSystem {
 public:
  // Set to an errno to make the next call of that kind fail (once).
  int fail_next_append = 0;
  std::atomic<int> fail_next_sync = 0;
  int fail_next_create = 0;
  int fail_next_read = 0;  // a read of a body the log keeps
  // The next write_at (the fill of a large record, on the sync thread).
  std::atomic<int> fail_next_write_at = 0;
  // write_at waits while this is set (a fill in progress, for tests that
  // look at the log meanwhile).
  std::atomic<bool> hold_writes_at = false;
  std::atomic<int> writes_at = 0;
  // Fail every open_for_read (as when the process is out of descriptors).
  int fail_all_opens_for_read = 0;
  // Fail every append/sync/create with this errno until cleared (0).
  int fail_all_appends = 0;
  std::atomic<int> fail_all_syncs = 0;
  int fail_next_sync_dir = 0;
  int fail_all_creates = 0;

  std::atomic<int> syncs = 0;
  std::atomic<int> dir_syncs = 0;
  // Syncs of files and of the directory made by the test's own thread, that
  // is, by the event loop in a server.
  std::atomic<int> syncs_on_creating_thread = 0;
  int reads = 0;    // reads of bodies the log keeps
  int creates = 0;  // files the log tried to create, failed attempts included

  void power_loss() {
    std::lock_guard lock(mutex_);
    for (auto& [path, synced] : synced_) real_.truncate_file(path, synced);
  }
  // How much of `path` a power loss would keep.
  std::uint64_t synced_length(const std::string& path) {
    std::lock_guard lock(mutex_);
    auto it = synced_.find(path);
    return it == synced_.end() ? 0 : it->second;
  }

  int create(const std::string& path, std::unique_ptr<WritableFile>& out) override {
    ++creates;
    if (int e = take(fail_next_create, fail_all_creates)) return e;
    std::unique_ptr<WritableFile> inner;
    if (int rc = real_.create(path, inner)) return rc;
    std::lock_guard lock(mutex_);
    synced_[path] = 0;
    out = std::make_unique<File>(*this, path, std::move(inner));
    return 0;
  }
  int read_file(const std::string& path, std::string& out) override {
    return real_.read_file(path, out);
  }
  int open_for_read(const std::string& path, std::unique_ptr<ReadableFile>& out) override {
    if (fail_all_opens_for_read) return fail_all_opens_for_read;
    std::unique_ptr<ReadableFile> inner;
    if (int rc = real_.open_for_read(path, inner)) return rc;
    out = std::make_unique<Reader>(*this, std::move(inner));
    return 0;
  }
  int truncate_file(const std::string& path, std::uint64_t size) override {
    int rc = real_.truncate_file(path, size);
    std::lock_guard lock(mutex_);
    if (rc == 0 && synced_.count(path) && synced_[path] > size) synced_[path] = size;
    return rc;
  }
  int list_dir(const std::string& dir, std::vector<std::string>& names) override {
    return real_.list_dir(dir, names);
  }
  int remove(const std::string& path) override {
    std::lock_guard lock(mutex_);
    synced_.erase(path);
    return real_.remove(path);
  }
  int rename(const std::string& from, const std::string& to) override {
    return real_.rename(from, to);
  }
  int make_dir(const std::string& path) override { return real_.make_dir(path); }
  int sync_dir(const std::string& dir) override {
    ++dir_syncs;
    note_sync_thread();
    if (int e = take(fail_next_sync_dir, 0)) return e;
    return real_.sync_dir(dir);
  }

 private:
  static int take(int& once, int always) {
    if (always) return always;
    int e = once;
    once = 0;
    return e;
  }
  static int take(std::atomic<int>& once, int always) {
    if (always) return always;
    return once.exchange(0);
  }
  void note_sync_thread() {
    if (std::this_thread::get_id() == creating_thread_) ++syncs_on_creating_thread;
  }

  class File final : public WritableFile {
   public:
    File(FaultInjectionFs& fs, std::string path, std::unique_ptr<WritableFile> inner)
        : fs_(fs), path_(std::move(path)), inner_(std::move(inner)) {}
    int append(const char* data, std::size_t size) override {
      if (int e = take(fs_.fail_next_append, fs_.fail_all_appends)) {
        // A failing write may still have written part of the data.
        inner_->append(data, size / 2);
        length_ = inner_->position();
        return e;
      }
      int rc = inner_->append(data, size);
      length_ = inner_->position();
      return rc;
    }
    void skip(std::uint64_t size) override {
      inner_->skip(size);
      length_ = inner_->position();
    }
    int write_at(std::uint64_t offset, const char* data, std::size_t size) override {
      while (fs_.hold_writes_at) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      ++fs_.writes_at;
      if (int e = take(fs_.fail_next_write_at, 0)) return e;
      return inner_->write_at(offset, data, size);
    }
    int sync() override {
      ++fs_.syncs;
      fs_.note_sync_thread();
      if (int e = take(fs_.fail_next_sync, fs_.fail_all_syncs)) return e;
      // The length before the sync: what a concurrent append adds may not
      // be covered.
      const std::uint64_t length = length_;
      int rc = inner_->sync();
      std::lock_guard lock(fs_.mutex_);
      if (rc == 0 && fs_.synced_.count(path_))
        fs_.synced_[path_] = std::max(fs_.synced_[path_], length);
      return rc;
    }
    int truncate(std::uint64_t size) override {
      int rc = inner_->truncate(size);
      length_ = inner_->position();
      std::lock_guard lock(fs_.mutex_);
      if (rc == 0 && fs_.synced_[path_] > size) fs_.synced_[path_] = size;
      return rc;
    }
    int preallocate(std::uint64_t) override {
      // Preallocation would make power_loss() keep zeros past the synced
      // length, which the reader treats as the end anyway; skip it so the
      // file length shows exactly what was written.
      return 0;
    }
    std::uint64_t position() const override { return inner_->position(); }
    int write_zeros(std::uint64_t offset, std::uint64_t size) override {
      return inner_->write_zeros(offset, size);
    }
    int read_at(std::uint64_t offset, char* dest, std::size_t size) override {
      ++fs_.reads;
      if (int e = take(fs_.fail_next_read, 0)) return e;
      return inner_->read_at(offset, dest, size);
    }

   private:
    FaultInjectionFs& fs_;
    std::string path_;
    std::unique_ptr<WritableFile> inner_;
    std::atomic<std::uint64_t> length_ = 0;  // inner_'s, for the sync thread
  };

  class Reader final : public ReadableFile {
   public:
    Reader(FaultInjectionFs& fs, std::unique_ptr<ReadableFile> inner)
        : fs_(fs), inner_(std::move(inner)) {}
    int read_at(std::uint64_t offset, char* dest, std::size_t size) override {
      ++fs_.reads;
      if (int e = take(fs_.fail_next_read, 0)) return e;
      return inner_->read_at(offset, dest, size);
    }

   private:
    FaultInjectionFs& fs_;
    std::unique_ptr<ReadableFile> inner_;
  };

  PosixFileSystem real_;
  const std::thread::id creating_thread_ = std::this_thread::get_id();
  std::mutex mutex_;
  std::map<std::string, std::uint64_t> synced_;  // under mutex_
};

}  // namespace beanstalkd::wal::testing
