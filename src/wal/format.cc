#include "beanstalkd/wal/format.h"

// For XXH32_state_t on the stack (job_full_checksum).
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <cstring>

namespace beanstalkd::wal {

namespace {

template <typename T>
void put_le(std::string& out, T v) {
  char buf[sizeof(T)];
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    buf[i] = static_cast<char>(static_cast<std::uint64_t>(v) >> (8 * i));
  }
  out.append(buf, sizeof(T));
}

// Reads little-endian values from a payload, remembering overruns.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  T get() {
    if (bytes_.size() - pos_ < sizeof(T)) {
      ok_ = false;
      return T{};
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes_[pos_ + i])) << (8 * i);
    pos_ += sizeof(T);
    return static_cast<T>(v);
  }
  std::string_view take(std::size_t n) {
    if (bytes_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    std::string_view v = bytes_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  bool done() const { return ok_ && pos_ == bytes_.size(); }
  bool ok() const { return ok_; }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// Reserves the record header, returns its offset; finish_record fills it in.
std::size_t begin_record(std::string& out, RecordType type) {
  std::size_t start = out.size();
  out.append(8, '\0');
  out.push_back(static_cast<char>(type));
  return start;
}

void finish_record(std::string& out, std::size_t start) {
  const auto length = static_cast<std::uint32_t>(out.size() - start - kRecordHeaderSize);
  for (std::size_t i = 0; i < 4; ++i) out[start + 4 + i] = static_cast<char>(length >> (8 * i));
  std::uint32_t sum = record_checksum(std::string_view(out).substr(start + 4));
  for (std::size_t i = 0; i < 4; ++i) out[start + i] = static_cast<char>(sum >> (8 * i));
}

// Bytes 4 to 8 of a record: what its checksum covers ahead of the payload.
std::string length_and_type(std::uint32_t payload_length, RecordType type) {
  std::string out;
  put_le<std::uint32_t>(out, payload_length);
  put_le<std::uint8_t>(out, static_cast<std::uint8_t>(type));
  return out;
}

void put_state_fields(const JobRecord& r, std::string& out) {
  put_le<std::uint64_t>(out, r.id);
  put_le<std::uint32_t>(out, r.priority);
  put_le<std::uint32_t>(out, r.delay_seconds);
  put_le<std::uint8_t>(out, static_cast<std::uint8_t>(r.state));
  put_le<std::int64_t>(out, r.ready_at_wall);
  put_le<std::uint64_t>(out, r.bury_order);
  put_le<std::uint32_t>(out, r.counts.reserves);
  put_le<std::uint32_t>(out, r.counts.timeouts);
  put_le<std::uint32_t>(out, r.counts.releases);
  put_le<std::uint32_t>(out, r.counts.buries);
  put_le<std::uint32_t>(out, r.counts.kicks);
}

bool get_state_fields(Cursor& c, JobRecord& r) {
  r.id = c.get<std::uint64_t>();
  r.priority = c.get<std::uint32_t>();
  r.delay_seconds = c.get<std::uint32_t>();
  auto state = c.get<std::uint8_t>();
  r.ready_at_wall = c.get<std::int64_t>();
  r.bury_order = c.get<std::uint64_t>();
  r.counts.reserves = c.get<std::uint32_t>();
  r.counts.timeouts = c.get<std::uint32_t>();
  r.counts.releases = c.get<std::uint32_t>();
  r.counts.buries = c.get<std::uint32_t>();
  r.counts.kicks = c.get<std::uint32_t>();
  if (state > static_cast<std::uint8_t>(JobState::Buried)) return false;
  r.state = static_cast<JobState>(state);
  return c.ok() && r.id != 0;
}

}  // namespace

std::size_t job_full_record_size(std::size_t tube_length, std::size_t body_length) {
  return kRecordHeaderSize + kStateFieldsSize + 4 + 8 + 1 + tube_length + 4 + body_length;
}

std::uint32_t record_checksum(std::string_view length_type_payload) {
  return XXH32(length_type_payload.data(), length_type_payload.size(), 0);
}

void encode_file_header(const FileHeader& header, std::string& out) {
  out.append(kMagic);
  put_le<std::uint32_t>(out, kFormatVersion);
  put_le<std::uint32_t>(out, header.oldest_needed);
  put_le<std::uint64_t>(out, header.file_index);
  put_le<std::uint64_t>(out, header.next_job_id);
}

std::string encode_oldest_needed(std::uint32_t oldest_needed) {
  std::string out;
  put_le<std::uint32_t>(out, oldest_needed);
  return out;
}

bool decode_file_header(std::string_view bytes, FileHeader& header, std::string& error) {
  if (bytes.size() < kFileHeaderSize) {
    error = "file shorter than its header";
    return false;
  }
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    error = "not a log file (bad magic)";
    return false;
  }
  Cursor c(bytes.substr(kMagic.size(), kFileHeaderSize - kMagic.size()));
  auto version = c.get<std::uint32_t>();
  header.oldest_needed = c.get<std::uint32_t>();
  header.file_index = c.get<std::uint64_t>();
  header.next_job_id = c.get<std::uint64_t>();
  if (version != kFormatVersion) {
    error = "unsupported format version " + std::to_string(version);
    return false;
  }
  return true;
}

void encode_job_full_head(const JobRecord& r, std::string& out) {
  put_state_fields(r, out);
  put_le<std::uint32_t>(out, r.ttr_seconds);
  put_le<std::int64_t>(out, r.created_at_wall);
  put_le<std::uint8_t>(out, static_cast<std::uint8_t>(r.tube.size()));
  out.append(r.tube);
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(r.body.size()));
}

void encode_job_full(const JobRecord& r, std::string& out) {
  std::size_t start = begin_record(out, RecordType::JobFull);
  encode_job_full_head(r, out);
  out.append(r.body);
  finish_record(out, start);
}

void encode_record_header(std::uint32_t checksum, std::uint32_t payload_length, RecordType type,
                          std::string& out) {
  put_le<std::uint32_t>(out, checksum);
  put_le<std::uint32_t>(out, payload_length);
  put_le<std::uint8_t>(out, static_cast<std::uint8_t>(type));
}

void encode_placeholder(std::uint32_t payload_length, std::string& out) {
  const std::string covered = length_and_type(payload_length, RecordType::Placeholder);
  encode_record_header(record_checksum(covered), payload_length, RecordType::Placeholder, out);
}

std::uint32_t job_full_checksum(std::string_view head, std::string_view body) {
  const std::string length_type =
      length_and_type(static_cast<std::uint32_t>(head.size() + body.size()), RecordType::JobFull);
  XXH32_state_t state;
  XXH32_reset(&state, 0);
  XXH32_update(&state, length_type.data(), length_type.size());
  XXH32_update(&state, head.data(), head.size());
  XXH32_update(&state, body.data(), body.size());
  return XXH32_digest(&state);
}

void encode_job_update(const JobRecord& r, std::string& out) {
  std::size_t start = begin_record(out, RecordType::JobUpdate);
  put_state_fields(r, out);
  finish_record(out, start);
}

void encode_job_delete(std::uint64_t id, std::string& out) {
  std::size_t start = begin_record(out, RecordType::JobDelete);
  put_le<std::uint64_t>(out, id);
  finish_record(out, start);
}

bool decode_record(RecordType type, std::string_view payload, JobRecord& r) {
  Cursor c(payload);
  switch (type) {
    case RecordType::JobFull: {
      if (!get_state_fields(c, r)) return false;
      r.ttr_seconds = c.get<std::uint32_t>();
      r.created_at_wall = c.get<std::int64_t>();
      auto tube_len = c.get<std::uint8_t>();
      r.tube = c.take(tube_len);
      auto body_len = c.get<std::uint32_t>();
      r.body = c.take(body_len);
      return c.done() && !r.tube.empty();
    }
    case RecordType::JobUpdate:
      return get_state_fields(c, r) && c.done();
    case RecordType::JobDelete:
      r.id = c.get<std::uint64_t>();
      return c.done() && r.id != 0;
    case RecordType::Placeholder:
      return false;  // nothing to decode: its payload was never filled
  }
  return false;
}

}  // namespace beanstalkd::wal
