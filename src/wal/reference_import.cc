#include "beanstalkd/wal/reference_import.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

namespace beanstalkd::wal {

namespace {

constexpr std::string_view kPrefix = "binlog.";
constexpr std::size_t kNameLengthSize = 4;
constexpr std::size_t kVersionSize = 4;
// The reference's largest job (its -z limit) plus the CRLF.
constexpr std::int64_t kMaxBodyWithCrlf = (std::int64_t{1} << 30) + 2;
constexpr std::string_view kTubeNameChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()";

// Offsets inside the 80-byte job record.
constexpr std::size_t kOffId = 0;
constexpr std::size_t kOffPriority = 8;
constexpr std::size_t kOffDelay = 16;
constexpr std::size_t kOffTtr = 24;
constexpr std::size_t kOffBodySize = 32;
constexpr std::size_t kOffCreated = 40;
constexpr std::size_t kOffDeadline = 48;
constexpr std::size_t kOffReserves = 56;
constexpr std::size_t kOffTimeouts = 60;
constexpr std::size_t kOffReleases = 64;
constexpr std::size_t kOffBuries = 68;
constexpr std::size_t kOffKicks = 72;
constexpr std::size_t kOffState = 76;

enum RefState : std::uint8_t { kDeleted = 0, kReady = 1, kReserved = 2, kBuried = 3, kDelayed = 4 };

template <typename T>
T load(std::string_view bytes, std::size_t at) {
  T value;
  std::memcpy(&value, bytes.data() + at, sizeof value);  // native endianness, as written
  return value;
}

struct RawJob {
  std::uint64_t id = 0;
  std::uint32_t priority = 0;
  std::int64_t delay_ns = 0;
  std::int64_t ttr_ns = 0;
  std::int32_t body_size = 0;
  std::int64_t created_ns = 0;
  std::int64_t deadline_ns = 0;
  JobCounters counts;
  std::uint8_t state = 0;
};

RawJob decode_job(std::string_view bytes, std::size_t at) {
  RawJob j;
  j.id = load<std::uint64_t>(bytes, at + kOffId);
  j.priority = load<std::uint32_t>(bytes, at + kOffPriority);
  j.delay_ns = load<std::int64_t>(bytes, at + kOffDelay);
  j.ttr_ns = load<std::int64_t>(bytes, at + kOffTtr);
  j.body_size = load<std::int32_t>(bytes, at + kOffBodySize);
  j.created_ns = load<std::int64_t>(bytes, at + kOffCreated);
  j.deadline_ns = load<std::int64_t>(bytes, at + kOffDeadline);
  j.counts.reserves = load<std::uint32_t>(bytes, at + kOffReserves);
  j.counts.timeouts = load<std::uint32_t>(bytes, at + kOffTimeouts);
  j.counts.releases = load<std::uint32_t>(bytes, at + kOffReleases);
  j.counts.buries = load<std::uint32_t>(bytes, at + kOffBuries);
  j.counts.kicks = load<std::uint32_t>(bytes, at + kOffKicks);
  j.state = load<std::uint8_t>(bytes, at + kOffState);
  return j;
}

// Whole seconds of a nanosecond duration, clamped to 0..UINT32_MAX.
std::uint32_t whole_seconds(std::int64_t ns) {
  if (ns <= 0) return 0;
  std::int64_t s = ns / 1'000'000'000;
  constexpr auto kMax = std::numeric_limits<std::uint32_t>::max();
  return s > std::int64_t{kMax} ? kMax : static_cast<std::uint32_t>(s);
}

std::optional<std::uint64_t> binlog_index(std::string_view name) {
  if (!name.starts_with(kPrefix)) return std::nullopt;
  std::string_view digits = name.substr(kPrefix.size());
  if (digits.empty()) return std::nullopt;
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::uint64_t index = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return index;
}

// binlog.N files of `dir`, ascending N.
std::vector<std::pair<std::uint64_t, std::string>> list_binlogs(const std::string& dir) {
  std::vector<std::pair<std::uint64_t, std::string>> found;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return found;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    auto index = binlog_index(it->path().filename().native());
    std::error_code type_ec;
    if (!index || !it->is_regular_file(type_ec)) continue;
    found.emplace_back(*index, it->path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

bool all_zero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

bool valid_tube_name(std::string_view name) {
  return name.find_first_not_of(kTubeNameChars) == std::string_view::npos;
}

// Applies the fields every record carries to `job`; the caller dealt with
// state 0. `bury_counter` numbers moves into the buried state.
void apply(RecoveredJob& job, const RawJob& raw, bool is_new, std::uint64_t& bury_counter) {
  bool was_buried = !is_new && job.state == JobState::Buried;
  job.priority = raw.priority;
  job.delay_seconds = whole_seconds(raw.delay_ns);
  job.ttr_seconds = std::max<std::uint32_t>(1, whole_seconds(raw.ttr_ns));
  job.created_at_wall = raw.created_ns;
  job.counts = raw.counts;
  job.ready_at_wall = 0;
  switch (raw.state) {
    case kBuried:
      job.state = JobState::Buried;
      if (!was_buried) job.bury_order = ++bury_counter;
      break;
    case kDelayed:
      job.state = JobState::Delayed;
      job.ready_at_wall = raw.deadline_ns;
      break;
    default:  // ready, or reserved when the reference stopped
      job.state = JobState::Ready;
      break;
  }
  if (job.state != JobState::Buried) job.bury_order = 0;
}

// Reads the whole file into `bytes`; false with `error` set if it cannot.
bool read_whole_file(const std::string& path, std::string& bytes, int& error) {
  bytes.clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = errno;
    return false;
  }
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno;
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}

}  // namespace

void ReferenceBinlogReplay::problem(const std::string& path, std::size_t offset,
                                    const std::string& what) {
  problems_.push_back(path + " offset " + std::to_string(offset) + ": " + what);
}

void ReferenceBinlogReplay::add_file(const std::string& path, std::string_view bytes) {
  if (bytes.size() < kVersionSize) {
    problem(path, 0,
            "file too short for its version (" + std::to_string(bytes.size()) + " bytes); skipped");
    return;
  }
  auto version = load<std::int32_t>(bytes, 0);
  if (version != kReferenceBinlogVersion) {
    problem(path, 0,
            "binlog version " + std::to_string(version) + ", expected " +
                std::to_string(kReferenceBinlogVersion) + "; skipped");
    return;
  }
  std::size_t at = kVersionSize;
  while (at < bytes.size()) {
    const std::size_t left = bytes.size() - at;
    // A file may end after its last record, or in zeros too short for an
    // id-0 record.
    if (left < kNameLengthSize) {
      if (!all_zero(bytes.substr(at))) problem(path, at, "truncated record");
      return;
    }
    auto name_length = load<std::int32_t>(bytes, at);
    if (name_length < 0 || static_cast<std::size_t>(name_length) > kReferenceMaxTubeName) {
      problem(path, at,
              "bad tube name length " + std::to_string(name_length) + "; rest of file skipped");
      return;
    }
    const auto name_size = static_cast<std::size_t>(name_length);
    const std::size_t job_at = at + kNameLengthSize + name_size;
    if (left < kNameLengthSize + name_size + kReferenceJobRecordSize) {
      if (!all_zero(bytes.substr(at))) problem(path, at, "truncated record");
      return;
    }
    const RawJob raw = decode_job(bytes, job_at);
    if (raw.id == 0) return;  // end of the used part
    max_id_ = std::max(max_id_, raw.id);
    if (raw.state > kDelayed) {
      problem(path, at,
              "job " + std::to_string(raw.id) + ": bad state " + std::to_string(raw.state) +
                  "; rest of file skipped");
      return;
    }

    if (name_size == 0) {  // short record: a state change of a known job
      at = job_at + kReferenceJobRecordSize;
      auto it = jobs_.find(raw.id);
      if (it == jobs_.end()) continue;
      if (raw.state == kDeleted)
        jobs_.erase(it);
      else
        apply(it->second, raw, false, bury_counter_);
      continue;
    }

    std::string_view tube = bytes.substr(at + kNameLengthSize, name_size);
    if (!valid_tube_name(tube)) {
      problem(path, at,
              "job " + std::to_string(raw.id) +
                  ": tube name with invalid characters; rest of file skipped");
      return;
    }
    if (raw.body_size < 2 || raw.body_size > kMaxBodyWithCrlf) {
      problem(path, at,
              "job " + std::to_string(raw.id) + ": bad body size " + std::to_string(raw.body_size) +
                  "; rest of file skipped");
      return;
    }
    const auto body_size = static_cast<std::size_t>(raw.body_size);
    const std::size_t body_at = job_at + kReferenceJobRecordSize;
    if (bytes.size() - body_at < body_size) {
      problem(path, at,
              "job " + std::to_string(raw.id) + ": truncated record (body of " +
                  std::to_string(body_size) + " bytes, " + std::to_string(bytes.size() - body_at) +
                  " left)");
      return;
    }
    std::string_view body = bytes.substr(body_at, body_size);
    at = body_at + body_size;
    if (!body.ends_with("\r\n"))
      problem(path, body_at, "job " + std::to_string(raw.id) + ": body does not end in CRLF");

    if (raw.state == kDeleted) {
      jobs_.erase(raw.id);
      continue;
    }
    auto [it, inserted] = jobs_.try_emplace(raw.id);
    RecoveredJob& job = it->second;
    job.id = raw.id;
    job.tube.assign(tube);
    job.body.assign(body.substr(0, body_size - 2));
    apply(job, raw, inserted, bury_counter_);
  }
}

void ReferenceBinlogReplay::add_unreadable(const std::string& path, int error) {
  problem(path, 0, std::string("cannot read: ") + std::strerror(error) + "; skipped");
}

void ReferenceBinlogReplay::finish(ReferenceImport& out) {
  out.jobs.reserve(out.jobs.size() + jobs_.size());
  for (auto& entry : jobs_) out.jobs.push_back(std::move(entry.second));
  jobs_.clear();
  out.problems.insert(out.problems.end(), problems_.begin(), problems_.end());
  out.max_id = std::max(out.max_id, max_id_);
}

bool has_reference_binlog(const std::string& dir) {
  return !list_binlogs(dir).empty();
}

ReferenceImport import_reference_binlog(const std::string& dir) {
  ReferenceImport out;
  ReferenceBinlogReplay replay;
  std::string bytes;
  for (const auto& [index, path] : list_binlogs(dir)) {
    int error = 0;
    if (!read_whole_file(path, bytes, error)) {
      replay.add_unreadable(path, error);
      continue;
    }
    out.files.push_back(path);
    replay.add_file(path, bytes);
  }
  replay.finish(out);
  return out;
}

}  // namespace beanstalkd::wal
