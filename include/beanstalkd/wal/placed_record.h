// A JobFull record with a large body, written in two steps (format.h): the
// event loop writes a placeholder header and goes on writing later records
// after the space it holds; the fill, which checksums and writes the
// megabytes of the body, runs on the sync thread. A client streaming 64 MiB
// bodies then no longer stalls every other client for tens of milliseconds
// a body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "beanstalkd/wal/file_system.h"
#include "beanstalkd/wal/format.h"

namespace beanstalkd::wal {

struct PlacedRecord {
  std::uint64_t offset = 0;    // where the record starts in its file
  std::string head;            // its payload up to the body (encode_job_full_head)
  const char* body = nullptr;  // the job's body, pinned until the record is durable
  std::size_t body_size = 0;
  std::uint64_t sequence = 0;  // the record's log sequence

  std::uint64_t size() const { return kRecordHeaderSize + head.size() + body_size; }
};

// The bodies from this size on are written as placed records. Smaller ones
// cost the loop less than the hand-over would (a 1 MiB record is about
// half a millisecond to checksum and write).
inline constexpr std::size_t kBodyPlacedFrom = std::size_t{1} << 20;

// Writes the payload, then the real header over the placeholder's, so that
// a stop in between leaves a placeholder, which readers skip.
int fill_placed_record(WritableFile& file, const PlacedRecord& record);

}  // namespace beanstalkd::wal
