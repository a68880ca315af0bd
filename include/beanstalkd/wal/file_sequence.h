// Which log files the log needs, so that a missing one is noticed.
//
// Files are numbered in sequence and removed oldest first. A gap between two
// files present shows that one went missing, but a missing *oldest* file
// leaves no gap, and its jobs would vanish without a word. So the header of
// the newest file names the oldest file the log still needs
// (FileHeader::oldest_needed): it is written with the header, and before
// obsolete files are removed it is rewritten in place, and synced, with the
// oldest file kept (OldestFileMark). A file older than the mark may be
// present (its removal was cut short); one from the mark on may not be
// missing. Recovery and --check-wal compare the mark with the files present
// (missing_log_files).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "beanstalkd/wal/file_system.h"

namespace beanstalkd::wal {

struct OldestFileMark {
  std::shared_ptr<WritableFile> file;  // the newest file, its header written
  std::string path;                    // its path, for the log
  std::uint32_t oldest_needed = 0;
  bool sync = true;  // false with -F, which never syncs
  // Rewrites `file`'s header field and syncs it: only then may older files
  // be removed. Returns an errno, or 0, having logged a failure: the
  // `obsolete` files are then left for the next start to remove.
  int write(std::size_t obsolete) const;
};

// A run of missing log files, first to last.
struct MissingFiles {
  std::uint32_t first = 0;
  std::uint32_t last = 0;
};

// The files missing from a log whose wal.N files are `present` (ascending)
// and whose newest header names `oldest_needed` (0: not recorded): gaps
// between files present, and files from oldest_needed up to the first
// present. Files kept aside as wal.N.damaged (`set_aside`, ascending) are
// not missing.
std::vector<MissingFiles> missing_log_files(const std::vector<std::uint32_t>& present,
                                            const std::vector<std::uint32_t>& set_aside,
                                            std::uint32_t oldest_needed);

// The log's files among a directory's `names`, each list ascending.
struct LogFileIndexes {
  std::vector<std::uint32_t> files;      // wal.N
  std::vector<std::uint32_t> set_aside;  // wal.N.damaged: not missing
};
LogFileIndexes log_file_indexes(const std::vector<std::string>& names);

// The N of a file kept aside as "wal.N.damaged", or 0.
std::uint32_t parse_set_aside_file_name(const std::string& name);

}  // namespace beanstalkd::wal
