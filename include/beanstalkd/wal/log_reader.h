// Reads one log file's bytes and hands back every intact record, telling a
// torn tail (a crash in the middle of the last write: normal) from damage
// (bad bytes with intact records after them: reported with its offset).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "beanstalkd/wal/format.h"

namespace beanstalkd::wal {

struct DamagedRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct FileScan {
  bool header_ok = false;
  std::string header_error;
  FileHeader header;
  std::uint64_t records = 0;
  // Large records whose writing a stop interrupted (RecordType::Placeholder):
  // skipped, not handed to the visitor.
  std::uint64_t placeholders = 0;
  // End of the last intact record: where a torn tail is cut off.
  std::uint64_t valid_end = 0;
  // Bytes after valid_end that are not zeros and hold no intact record.
  bool torn_tail = false;
  std::uint64_t torn_bytes = 0;
  // Bad bytes followed by intact records.
  std::vector<DamagedRange> damage;
};

using RecordVisitor = std::function<void(RecordType type, std::string_view payload)>;

// `file_index`: the N of the file's name "wal.N", which its header must
// repeat (a file copied or renamed would otherwise be replayed in the wrong
// place, bringing back what later files deleted); 0 accepts any.
FileScan scan_log_file(std::string_view bytes, std::uint64_t file_index,
                       const RecordVisitor& visit);

// The size of the intact record (framing, type and checksum all good) that
// starts at `at` in `bytes`, or 0 if there is none.
std::size_t intact_record_at(std::string_view bytes, std::size_t at);

}  // namespace beanstalkd::wal
