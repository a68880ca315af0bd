// The on-disk format of the project's write-ahead log (doc/wal-format.md
// describes it for humans). All integers are little-endian.
//
// A log file is a 32-byte header followed by records:
//   header: magic "BSTKWAL\0" (8) | version u32 | oldest needed file u32 |
//           file index u64 | next job id u64
//   record: checksum u32 | payload length u32 | type u8 | payload
// The checksum is XXH32 (seed 0) over length, type and payload. Files are
// preallocated; an all-zero record header ends the used part.
//
// A JobFull record with a large body is written in two steps, so that the
// event loop neither encodes nor writes it (PlacedRecord): first a
// Placeholder header, whose checksum covers only its length and type, with
// the record's length; later records follow the space it holds. The sync
// thread then writes the payload and, last, the real header over the
// placeholder's. A reader skips a Placeholder: a stop interrupted the fill.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "beanstalkd/job.h"

namespace beanstalkd::wal {

inline constexpr std::string_view kMagic{"BSTKWAL\0", 8};
inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr std::size_t kFileHeaderSize = 32;
inline constexpr std::size_t kRecordHeaderSize = 9;
// The largest payload a reader accepts: a 1 GiB body plus fields.
inline constexpr std::uint32_t kMaxPayload = (1u << 30) + 1024;

enum class RecordType : std::uint8_t {
  JobFull = 1,      // a job with its tube and body: written by put and by compaction
  JobUpdate = 2,    // a job's state, priority, delay and counters
  JobDelete = 3,    // a job is gone
  Placeholder = 4,  // holds a JobFull's place while it is written; skipped
};

// The persistent fields of a job, as carried by JobFull and JobUpdate.
struct JobRecord {
  std::uint64_t id = 0;
  std::uint32_t priority = 0;
  std::uint32_t delay_seconds = 0;
  std::uint32_t ttr_seconds = 1;  // JobFull only
  JobState state = JobState::Ready;
  std::int64_t created_at_wall = 0;  // JobFull only; CLOCK_REALTIME ns
  std::int64_t ready_at_wall = 0;    // Delayed: when it becomes ready
  std::uint64_t bury_order = 0;      // Buried: FIFO position
  JobCounters counts;
  std::string_view tube;  // JobFull only
  std::string_view body;  // JobFull only, without CRLF
};

struct FileHeader {
  std::uint64_t file_index = 0;
  std::uint64_t next_job_id = 1;
  // The oldest log file the log still needed when this header was last
  // written (file_sequence.h); 0 in files of builds that did not record it.
  std::uint32_t oldest_needed = 0;
};

// Where oldest_needed sits in the header; it is rewritten in place.
inline constexpr std::size_t kOldestNeededOffset = 12;

void encode_file_header(const FileHeader& header, std::string& out);
// The 4 bytes of oldest_needed, as they sit at kOldestNeededOffset.
std::string encode_oldest_needed(std::uint32_t oldest_needed);
// False if the magic or version is wrong.
bool decode_file_header(std::string_view bytes, FileHeader& header, std::string& error);

// Append one whole record to `out`.
void encode_job_full(const JobRecord& r, std::string& out);
// A JobFull payload up to its body (fields, tube, body length): the body
// follows it.
void encode_job_full_head(const JobRecord& r, std::string& out);
// The 9-byte record header: checksum, payload length, type.
void encode_record_header(std::uint32_t checksum, std::uint32_t payload_length, RecordType type,
                          std::string& out);
// A Placeholder header for a record with `payload_length` bytes of payload.
void encode_placeholder(std::uint32_t payload_length, std::string& out);
// The checksum of a JobFull record whose payload is `head` then `body`.
std::uint32_t job_full_checksum(std::string_view head, std::string_view body);
void encode_job_update(const JobRecord& r, std::string& out);
void encode_job_delete(std::uint64_t id, std::string& out);

// Decodes a payload of the given type; false if malformed.
bool decode_record(RecordType type, std::string_view payload, JobRecord& r);

// Exact encoded sizes, so the writer can decide which file a record goes
// to before encoding it.
std::size_t job_full_record_size(std::size_t tube_length, std::size_t body_length);
inline constexpr std::size_t kStateFieldsSize = 8 + 4 + 4 + 1 + 8 + 8 + 5 * 4;
inline constexpr std::size_t kJobUpdateRecordSize = kRecordHeaderSize + kStateFieldsSize;
inline constexpr std::size_t kJobDeleteRecordSize = kRecordHeaderSize + 8;

std::uint32_t record_checksum(std::string_view length_type_payload);

}  // namespace beanstalkd::wal
