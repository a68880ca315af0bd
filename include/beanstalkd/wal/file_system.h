// The log's only way to touch the disk, so tests can inject write and sync
// failures, a full disk, and power loss. Every call returns 0 or an errno.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace beanstalkd::wal {

class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads exactly `size` bytes at `offset` (EIO if the file ends first).
  virtual int read_at(std::uint64_t offset, char* dest, std::size_t size) = 0;
};

// A file being appended to; it also reads back what it holds, so the log
// keeps one descriptor per file whether it writes or only reads it.
class WritableFile : public ReadableFile {
 public:
  // Writes all of `data` at the end, or fails (possibly after writing part).
  virtual int append(const char* data, std::size_t size) = 0;
  // Moves the append position `size` bytes on, leaving them to write_at().
  virtual void skip(std::uint64_t size) = 0;
  // Writes all of `data` at `offset`, in bytes skip() left or in the file's
  // header. Safe to call from another thread while append() runs.
  virtual int write_at(std::uint64_t offset, const char* data, std::size_t size) = 0;
  // Makes everything appended so far durable. Safe to call from another
  // thread while append() runs.
  virtual int sync() = 0;
  // Cuts the file back to `size` bytes (and the append position with it).
  virtual int truncate(std::uint64_t size) = 0;
  // Reserves disk space up to `size` bytes, zero-filled.
  virtual int preallocate(std::uint64_t size) = 0;
  // Writes `size` zero bytes at `offset`, past the append position, which
  // does not move.
  virtual int write_zeros(std::uint64_t offset, std::uint64_t size) = 0;
  virtual std::uint64_t position() const = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Creates (or truncates) a file for appending.
  virtual int create(const std::string& path, std::unique_ptr<WritableFile>& out) = 0;
  virtual int read_file(const std::string& path, std::string& out) = 0;
  // Opens a file for reads at any offset (bodies the log keeps on disk).
  virtual int open_for_read(const std::string& path, std::unique_ptr<ReadableFile>& out) = 0;
  virtual int truncate_file(const std::string& path, std::uint64_t size) = 0;
  virtual int list_dir(const std::string& dir, std::vector<std::string>& names) = 0;
  virtual int remove(const std::string& path) = 0;
  virtual int rename(const std::string& from, const std::string& to) = 0;
  virtual int make_dir(const std::string& path) = 0;
  // Makes creations, renames and removals in `dir` durable.
  virtual int sync_dir(const std::string& dir) = 0;
};

// The real disk.
class PosixFileSystem final : public FileSystem {
 public:
  int create(const std::string& path, std::unique_ptr<WritableFile>& out) override;
  int read_file(const std::string& path, std::string& out) override;
  int open_for_read(const std::string& path, std::unique_ptr<ReadableFile>& out) override;
  int truncate_file(const std::string& path, std::uint64_t size) override;
  int list_dir(const std::string& dir, std::vector<std::string>& names) override;
  int remove(const std::string& path) override;
  int rename(const std::string& from, const std::string& to) override;
  int make_dir(const std::string& path) override;
  int sync_dir(const std::string& dir) override;
};

// Takes an exclusive lock on DIR/lock for the life of the process. Returns
// the lock's fd, or -1 with `error` set (another server holds it, or the
// directory is unusable).
int lock_directory(const std::string& dir, std::string& error);

}  // namespace beanstalkd::wal
