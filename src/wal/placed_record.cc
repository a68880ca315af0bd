#include "beanstalkd/wal/placed_record.h"

#include <string_view>

namespace beanstalkd::wal {

int fill_placed_record(WritableFile& file, const PlacedRecord& record) {
  const std::string_view body(record.body, record.body_size);
  const std::uint64_t payload_at = record.offset + kRecordHeaderSize;
  int rc = file.write_at(payload_at, record.head.data(), record.head.size());
  if (rc == 0) rc = file.write_at(payload_at + record.head.size(), body.data(), body.size());
  if (rc != 0) return rc;
  std::string header;
  encode_record_header(job_full_checksum(record.head, body),
                       static_cast<std::uint32_t>(record.head.size() + body.size()),
                       RecordType::JobFull, header);
  return file.write_at(record.offset, header.data(), header.size());
}

}  // namespace beanstalkd::wal
