#include "beanstalkd/wal/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <vector>

namespace beanstalkd::wal {

namespace {

int pread_exactly(int fd, std::uint64_t offset, char* dest, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::pread(fd, dest, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    dest += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return 0;
}

class PosixWritableFile final : public WritableFile {
 public:
  explicit PosixWritableFile(int fd) : fd_(fd) {}
  ~PosixWritableFile() override { ::close(fd_); }

  int append(const char* data, std::size_t size) override {
    const int rc = write_at(position_, data, size);
    if (rc == 0) position_ += size;
    return rc;
  }

  void skip(std::uint64_t size) override { position_ += size; }

  int write_at(std::uint64_t offset, const char* data, std::size_t size) override {
    while (size > 0) {
      ssize_t n = ::pwrite(fd_, data, size, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      data += n;
      size -= static_cast<std::size_t>(n);
      offset += static_cast<std::uint64_t>(n);
    }
    return 0;
  }

  int sync() override { return ::fdatasync(fd_) == 0 ? 0 : errno; }

  int truncate(std::uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return errno;
    position_ = size;
    return 0;
  }

  int preallocate(std::uint64_t size) override {
    int rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(size));
    // Filesystems without fallocate support just grow as written.
    return rc == EOPNOTSUPP || rc == EINVAL ? 0 : rc;
  }

  std::uint64_t position() const override { return position_; }

  int write_zeros(std::uint64_t offset, std::uint64_t size) override {
    static const std::vector<char> zeros(std::size_t{1} << 16, 0);
    while (size > 0) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size, zeros.size()));
      ssize_t done = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(offset));
      if (done < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      offset += static_cast<std::uint64_t>(done);
      size -= static_cast<std::uint64_t>(done);
    }
    return 0;
  }

  int read_at(std::uint64_t offset, char* dest, std::size_t size) override {
    return pread_exactly(fd_, offset, dest, size);
  }

 private:
  int fd_;
  std::uint64_t position_ = 0;
};

class PosixReadableFile final : public ReadableFile {
 public:
  explicit PosixReadableFile(int fd) : fd_(fd) {}
  ~PosixReadableFile() override { ::close(fd_); }

  int read_at(std::uint64_t offset, char* dest, std::size_t size) override {
    return pread_exactly(fd_, offset, dest, size);
  }

 private:
  int fd_;
};

}  // namespace

int PosixFileSystem::open_for_read(const std::string& path, std::unique_ptr<ReadableFile>& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out = std::make_unique<PosixReadableFile>(fd);
  return 0;
}

int PosixFileSystem::create(const std::string& path, std::unique_ptr<WritableFile>& out) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return errno;
  // Without memory for the object, an error like any other, not a leaked
  // descriptor.
  auto* file = new (std::nothrow) PosixWritableFile(fd);
  if (!file) {
    ::close(fd);
    return ENOMEM;
  }
  out.reset(file);
  return 0;
}

int PosixFileSystem::read_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return err;
  }
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  ::close(fd);
  return 0;
}

int PosixFileSystem::truncate_file(const std::string& path, std::uint64_t size) {
  return ::truncate(path.c_str(), static_cast<off_t>(size)) == 0 ? 0 : errno;
}

int PosixFileSystem::list_dir(const std::string& dir, std::vector<std::string>& names) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return errno;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(d);
  return 0;
}

int PosixFileSystem::remove(const std::string& path) {
  return ::unlink(path.c_str()) == 0 ? 0 : errno;
}

int PosixFileSystem::rename(const std::string& from, const std::string& to) {
  return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

int PosixFileSystem::make_dir(const std::string& path) {
  return ::mkdir(path.c_str(), 0750) == 0 || errno == EEXIST ? 0 : errno;
}

int PosixFileSystem::sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

int lock_directory(const std::string& dir, std::string& error) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT || ::mkdir(dir.c_str(), 0750) != 0) {
      error = "cannot use log directory " + dir + ": " + std::strerror(errno);
      return -1;
    }
  } else if (!S_ISDIR(st.st_mode)) {
    error = dir + " is not a directory";
    return -1;
  }
  std::string path = dir + "/lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return -1;
  }
  // Two kinds of lock, because Linux keeps them apart: flock, and the POSIX
  // record lock the reference server takes (fcntl F_SETLK) on the same file,
  // so that neither server replays or moves a log the other is writing.
  struct flock whole_file {};
  whole_file.l_type = F_WRLCK;
  whole_file.l_whence = SEEK_SET;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::fcntl(fd, F_SETLK, &whole_file) != 0) {
    error = errno == EWOULDBLOCK || errno == EAGAIN || errno == EACCES
                ? "log directory " + dir + " is in use by another server (" + path + " is locked)"
                : "cannot lock " + path + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace beanstalkd::wal
