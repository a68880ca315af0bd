#include "beanstalkd/wal/log_reader.h"

#include <algorithm>

namespace beanstalkd::wal {

namespace {

std::uint32_t load_u32(std::string_view b, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}

bool all_zero(std::string_view b) {
  return std::all_of(b.begin(), b.end(), [](char c) { return c == 0; });
}

std::size_t next_intact_record(std::string_view b, std::size_t from) {
  for (std::size_t at = from; at + kRecordHeaderSize <= b.size(); ++at)
    if (intact_record_at(b, at)) return at;
  return std::string_view::npos;
}

}  // namespace

std::size_t intact_record_at(std::string_view b, std::size_t at) {
  if (b.size() - at < kRecordHeaderSize) return 0;
  auto type = static_cast<unsigned char>(b[at + 8]);
  if (type < static_cast<unsigned char>(RecordType::JobFull) ||
      type > static_cast<unsigned char>(RecordType::Placeholder))
    return 0;
  std::uint32_t length = load_u32(b, at + 4);
  if (length > kMaxPayload || b.size() - at - kRecordHeaderSize < length) return 0;
  // A placeholder's checksum covers its length and type only.
  const std::size_t covered =
      type == static_cast<unsigned char>(RecordType::Placeholder) ? 0 : length;
  if (record_checksum(b.substr(at + 4, 5 + covered)) != load_u32(b, at)) return 0;
  return kRecordHeaderSize + length;
}

FileScan scan_log_file(std::string_view bytes, std::uint64_t file_index,
                       const RecordVisitor& visit) {
  FileScan scan;
  scan.header_ok = decode_file_header(bytes, scan.header, scan.header_error);
  if (scan.header_ok && file_index != 0 && scan.header.file_index != file_index) {
    scan.header_ok = false;
    scan.header_error = "its header says it is log file " + std::to_string(scan.header.file_index) +
                        " (copied or renamed?); its records were not replayed";
  }
  if (!scan.header_ok) return scan;
  std::size_t at = kFileHeaderSize;
  scan.valid_end = at;
  while (at < bytes.size()) {
    if (std::size_t size = intact_record_at(bytes, at)) {
      auto type = static_cast<RecordType>(bytes[at + 8]);
      if (type == RecordType::Placeholder) {
        ++scan.placeholders;
      } else {
        visit(type, bytes.substr(at + kRecordHeaderSize, size - kRecordHeaderSize));
        ++scan.records;
      }
      at += size;
      scan.valid_end = at;
      continue;
    }
    // Not a record: the zeroed, preallocated end of the file, a torn last
    // write, or damage.
    std::string_view rest = bytes.substr(at);
    if (all_zero(rest)) break;
    std::size_t next = next_intact_record(bytes, at + 1);
    if (next == std::string_view::npos) {
      scan.torn_tail = true;
      scan.torn_bytes = rest.size();
      break;
    }
    scan.damage.push_back({at, next - at});
    at = next;
  }
  return scan;
}

}  // namespace beanstalkd::wal
