// Reads the binlog directory of the reference server (beanstalkd 1.12), so a
// user moving from it keeps their jobs. The files are read, never changed.
//
// The format (x86-64, native little-endian, no checksums), as verified on
// files written by Debian's beanstalkd 1.12:
//   file:   version i32 (7) | records... | optional zeros (preallocation)
//   record: tube-name length i32 | name | job record (80 bytes) | body
//           A name length of 0 is a short record: the job record alone,
//           updating a job logged before (no name, no body).
//   job record, by offset:
//      0 id u64            8 priority u32      12 padding (4)
//     16 delay ns i64     24 ttr ns i64        32 body size i32 (with CRLF)
//     36 padding (4)      40 created-at ns i64 (CLOCK_REALTIME)
//     48 deadline ns i64 (CLOCK_REALTIME; meaningful while delayed)
//     56 reserves u32     60 timeouts u32      64 releases u32
//     68 buries u32       72 kicks u32
//     76 state u8 (0 deleted, 1 ready, 2 reserved, 3 buried, 4 delayed)
//     77 padding (3)
// A record whose id is 0 ends the used part of a file; a finished file may
// also just end after its last record (the reference truncates it).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "beanstalkd/wal/recovered_job.h"

namespace beanstalkd::wal {

inline constexpr std::int32_t kReferenceBinlogVersion = 7;
inline constexpr std::size_t kReferenceJobRecordSize = 80;
// The reference's longest tube name.
inline constexpr std::size_t kReferenceMaxTubeName = 200;

struct ReferenceImport {
  std::vector<RecoveredJob> jobs;     // sorted by id
  std::vector<std::string> files;     // paths read, ascending index
  std::vector<std::string> problems;  // human-readable: file, offset, what
  std::uint64_t max_id = 0;           // highest job id in any record, deleted ones too
};

// True if `dir` holds any reference binlog file (binlog.N, N decimal).
bool has_reference_binlog(const std::string& dir);

// Replays every binlog.N of `dir` in ascending N:
// - a full record creates or replaces its job (tube, body and fields);
// - a short record updates the fields of a job already seen (ignored if the
//   job is unknown: its full record was in a file the reference deleted);
// - state 0 removes the job;
// - a reserved job comes back Ready;
// - buried jobs get a bury_order from a running counter bumped by each
//   record that moves a job into the buried state (a record re-stating an
//   already buried job, like the reference's compaction copies, keeps it);
// - a file whose version is not 7 is reported and skipped; a truncated or
//   malformed record is reported and the rest of that file skipped;
// - a body whose last two bytes are not CRLF is reported, and the job kept
//   with its body minus those two bytes.
ReferenceImport import_reference_binlog(const std::string& dir);

// The replay behind import_reference_binlog, on file contents in memory
// (for tests and fuzzing): feed each file's bytes in ascending index order,
// then take the result.
class ReferenceBinlogReplay {
 public:
  // `path` only names the file in problems.
  void add_file(const std::string& path, std::string_view bytes);
  // A file that could not be read (`error` is an errno): reported, skipped.
  void add_unreadable(const std::string& path, int error);
  // Fills `out`'s jobs (sorted by id), problems and max_id; call once.
  void finish(ReferenceImport& out);

 private:
  void problem(const std::string& path, std::size_t offset, const std::string& what);

  std::map<std::uint64_t, RecoveredJob> jobs_;
  std::vector<std::string> problems_;
  std::uint64_t max_id_ = 0;
  std::uint64_t bury_counter_ = 0;
};

}  // namespace beanstalkd::wal
