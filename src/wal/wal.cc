#include "beanstalkd/wal/wal.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <new>
#include <optional>

#include <spdlog/spdlog.h>

#include "beanstalkd/options.h"
#include "beanstalkd/vector_room.h"
#include "beanstalkd/wal/file_sequence.h"
#include "beanstalkd/wal/log_reader.h"

namespace beanstalkd::wal {

namespace {

constexpr Nanos kRetryInterval = kNanosPerSecond;
constexpr std::uint64_t kZeroAhead = std::uint64_t{1} << 20;    // see zero_ahead()
constexpr std::size_t kReadAheadSize = std::size_t{64} * 1024;  // see ReadAhead

// A body left in the log keeps its record's offset in 32 bits of the job.
static_assert(beanstalkd::kMaxBinlogSize <= Job::kMaxLogOffset);

std::size_t full_size(const Job& job) {
  return job_full_record_size(job.tube->name.size(), job.body_size);
}

}  // namespace

Wal::Wal(FileSystem& fs, WalOptions options) : fs_(fs), options_(std::move(options)) {
  // With -F it still fills large records and removes files.
  if (options_.background_sync) sync_thread_ = std::make_unique<SyncThread>(fs_, options_.dir);
}

Wal::~Wal() {
  if (store_) store_->set_journal(nullptr);
  if (sync_thread_) sync_thread_->wait_idle();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string Wal::file_name(std::uint32_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "wal.%010u", index);
  return buf;
}

std::uint32_t Wal::parse_file_name(const std::string& name) {
  if (name.size() <= 4 || name.compare(0, 4, "wal.") != 0) return 0;
  std::uint64_t v = 0;
  for (std::size_t i = 4; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    v = v * 10 + static_cast<std::uint64_t>(name[i] - '0');
    if (v > UINT32_MAX) return 0;
  }
  return static_cast<std::uint32_t>(v);
}

std::uint64_t Wal::disk_bytes() const {
  std::uint64_t total = 0;
  for (const auto& [index, file] : files_)
    total += index == append_index_ ? append_size_ : file.size;
  return total;
}

std::uint64_t Wal::live_bytes() const {
  std::uint64_t total = 0;
  for (const auto& [index, file] : files_) total += file.live_bytes;
  return total;
}

// --- recording ---------------------------------------------------------------

JobRecord Wal::to_record(const Job& job) const {
  // Job times are monotonic; the log keeps wall-clock times, which still
  // mean something after a reboot.
  const Nanos offset = wall_clock_now() - clock_->now();
  JobRecord r;
  r.id = job.id;
  r.priority = job.priority;
  r.delay_seconds = job.delay_seconds;
  r.ttr_seconds = job.ttr_seconds;
  r.state = job.state;
  r.created_at_wall = job.created_at + offset;
  const JobActivity& activity = job.activity();
  if (job.state == JobState::Delayed) r.ready_at_wall = activity.deadline_at + offset;
  if (job.state == JobState::Buried)
    r.bury_order = static_cast<std::uint64_t>(activity.deadline_at);
  r.counts = activity.counts;
  r.tube = job.tube->name;
  if (!job.body_in_log) r.body = job.body();  // else append_full reads it back
  return r;
}

// Where the current file's reserve starts: a record that would reach past
// it goes to the next file.
std::uint64_t Wal::rotation_point() const {
  return options_.file_size - options_.file_size / kDeleteReserveShare;
}

// The file a record of `size` bytes goes to: the one appended to, or the
// next when the record would reach into this one's reserve (creating it
// ahead: prepare_file).
std::uint32_t Wal::file_for_record(std::size_t size) {
  const bool fits_file = append_size_ + size <= options_.file_size;
  // Full: only deletes and the changes update_room() admits arrive, and
  // their room was checked.
  if (full_ && fits_file) return append_index_;
  if (append_size_ + size <= rotation_point() || append_size_ <= kFileHeaderSize)
    return append_index_;
  // No room on the disk for the next file: the record takes the reserve,
  // and from now on only deletes and update_room()'s changes do. A record
  // too large for the reserve goes on to the next file regardless, whose
  // creation then fails again at the write, holding its reply until a
  // retry succeeds.
  if (!prepare_file(append_index_ + 1) && fits_file) return append_index_;
  LogFile& next = files_[append_index_ + 1];
  if (next.path.empty()) next.path = options_.dir + "/" + file_name(append_index_ + 1);
  return append_index_ + 1;
}

// Allocates nothing after make_room_for_record(size).
void Wal::reserve_room(std::size_t size) {
  if (const std::uint32_t index = file_for_record(size); index != append_index_) {
    append_index_ = index;
    append_size_ = kFileHeaderSize;
    // At the end of the turn (flush), not here, where it would allocate.
    compaction_due_ = true;
  }
  append_size_ += size;
}

// A chunk records of file `index` can be added to: one of that file's that
// is not a placed record's, or a spare that holds no record yet.
bool Wal::appendable(const Chunk& chunk, std::uint32_t index) {
  return !chunk.placed && (chunk.file_index == index || chunk.records == 0);
}

// Makes the room that appending one record of `size` bytes (`kind`) will
// need, so that the append allocates nothing: the chunk it goes into and
// that chunk's capacity, the job's place in its file's list of ids, the
// room to doom the files a delete makes obsolete. Throws std::bad_alloc
// when there is no memory for it, leaving only room made (and possibly the
// next file created).
void Wal::make_room_for_record(std::size_t size, RecordKind kind) {
  const std::uint32_t index = file_for_record(size);
  const std::uint64_t start = index == append_index_ ? append_size_ : kFileHeaderSize;
  if (kind == RecordKind::Placed) {
    // A placed record takes a chunk of its own: a spare.
    if (pending_.empty() || pending_.back().records != 0 || pending_.back().placed)
      pending_.emplace_back(index, start, appended_seq_);
  } else {
    if (pending_.empty() || !appendable(pending_.back(), index))
      pending_.emplace_back(index, start, appended_seq_);
    std::string& bytes = pending_.back().bytes;
    if (bytes.capacity() - bytes.size() < size)
      bytes.reserve(std::max(bytes.size() + size, 2 * bytes.capacity()));
  }
  if (kind == RecordKind::Full || kind == RecordKind::Placed)
    files_.at(index).job_ids.make_room_for_one();
  if (kind == RecordKind::Delete) make_room(doomed_, doomed_.size() + files_.size());
}

void Wal::make_room_for_update(Update update) {
  if (leaves_out(update)) return;
  make_room_for_record(kJobUpdateRecordSize, RecordKind::Update);
}

// While failed the server refuses changes, and while full it admits those
// update_room() has room for; what else arrives here (reserves, timeouts
// and releases that keep everything) only counts, and is left out rather
// than take that room.
bool Wal::leaves_out(Update update) const {
  return failed_ || (full_ && update == Update::CountersOnly);
}

void Wal::make_room_for_delete() {
  make_room_for_record(kJobDeleteRecordSize, RecordKind::Delete);
}

// Creates and preallocates log file `index` before any record is assigned
// to it, while the current file still has its reserve: a disk too full for
// it leaves the log full (full_), not failed. It is opened for writing, its
// header written, once the records before it are (open_file).
bool Wal::prepare_file(std::uint32_t index) {
  auto it = files_.find(index);
  if (it != files_.end() && (it->second.prepared || it->second.writer)) return true;
  const std::string path = options_.dir + "/" + file_name(index);
  std::unique_ptr<WritableFile> created;
  if (int rc = create_preallocated(path, created); rc != 0) {
    // The message first: without memory for it, the caller's operation is
    // refused with nothing changed.
    std::string failure = "creating " + path + ": " + std::strerror(rc);
    ++stats_.write_failures;
    full_ = true;
    report_failure(std::move(failure),
                   "refusing puts (OUT_OF_MEMORY) and retrying every second; deletes, "
                   "releases, burials and kicks go into the current file's reserve");
    return false;
  }
  LogFile& file = files_[index];
  file.path = path;
  file.prepared = std::move(created);  // the shared_ptr's allocation, here rather than at open_file
  file.created_durably = false;        // see open_file
  return true;
}

// A new, empty file of -s bytes of allocated space; nothing left behind on
// failure.
int Wal::create_preallocated(const std::string& path, std::unique_ptr<WritableFile>& out) {
  int rc = fs_.create(path, out);
  if (rc == 0) rc = out->preallocate(options_.file_size);
  if (rc != 0) {
    out.reset();
    fs_.remove(path);
  }
  return rc;
}

Wal::Chunk& Wal::chunk_for_append(std::size_t record_size) {
  assert(!pending_.empty() && appendable(pending_.back(), append_index_));
  Chunk& chunk = pending_.back();
  if (chunk.records == 0) {  // a spare, taken for this file
    chunk.file_index = append_index_;
    chunk.start = append_size_ - record_size;
    chunk.end_seq = appended_seq_;
  }
  return chunk;
}

void Wal::note_appended() {
  Chunk& chunk = pending_.back();
  ++chunk.records;
  chunk.end_seq = ++appended_seq_;
}

// Returns where the record starts in the file appended to; nothing, leaving
// the job where it was, if its body is in the log and cannot be read back.
//
// What it allocates comes first: it throws std::bad_alloc, having changed
// nothing, when there is no memory for it.
std::optional<std::uint64_t> Wal::append_full(Job& job) {
  const std::size_t size = full_size(job);
  JobRecord record = to_record(job);
  std::string body_from_log;
  if (job.body_in_log) {
    body_from_log.resize(job.body_size);
    if (!copy_body(job, body_from_log.data())) return std::nullopt;
    record.body = body_from_log;
  }
  std::shared_ptr<PlacedRecord> placed;
  if (!job.body_in_log && job.body_size >= kBodyPlacedFrom) {
    placed = std::make_shared<PlacedRecord>();
    encode_job_full_head(record, placed->head);
  }
  make_room_for_record(size, placed ? RecordKind::Placed : RecordKind::Full);
  // Nothing below allocates.
  reserve_room(size);
  const std::uint64_t offset = append_size_ - size;
  if (placed) {
    append_placed(job, std::move(placed), offset);
  } else {
    encode_job_full(record, chunk_for_append(size).bytes);
    note_appended();
  }
  if (job.wal_file != 0) detach_from_file(job);
  LogFile& file = files_[append_index_];
  ++file.live_jobs;
  file.live_bytes += size;
  file.job_ids.push_back(job.id);
  job.wal_file = append_index_;
  if (job.body_in_log) job.set_log_offset(offset);
  return offset;
}

// A large record goes into a chunk of its own (the spare
// make_room_for_record left) as a placeholder; the job's body is pinned, not
// copied, and written when the chunk is (write_chunk). `placed` holds the
// record's head already.
void Wal::append_placed(Job& job, std::shared_ptr<PlacedRecord> placed, std::uint64_t offset) {
  const std::size_t size = full_size(job);
  placed->offset = offset;
  placed->body = job.body_with_crlf();
  placed->body_size = job.body_size;
  Chunk& chunk = pending_.back();
  assert(chunk.records == 0 && !chunk.placed && chunk.bytes.empty());
  chunk.file_index = append_index_;
  chunk.start = offset;
  // Nine bytes: within the string's own storage.
  encode_placeholder(static_cast<std::uint32_t>(size - kRecordHeaderSize), chunk.bytes);
  chunk.pin = BodyPin(&job);
  note_appended();
  placed->sequence = appended_seq_;
  new_placement_seq_ = appended_seq_;
  chunk.placed = std::move(placed);
}

std::uint64_t Wal::hold_sequence_for_change() {
  if (holds_replies()) return appended_seq_;
  return std::exchange(new_placement_seq_, 0);
}

// A record as it is in the log: in the chunk that holds it while it is not
// written yet (this turn's, or one waiting for a retry after a failure),
// else read from its file, reading ahead. `out` views bytes the log keeps
// until its next change or read.
int Wal::read_record(std::uint32_t file_index, std::uint64_t offset, std::size_t size,
                     std::string_view& out) {
  for (const Chunk& chunk : pending_) {
    if (chunk.file_index == file_index && offset >= chunk.start &&
        offset - chunk.start + size <= chunk.bytes.size()) {
      out = std::string_view(chunk.bytes).substr(offset - chunk.start, size);
      return 0;
    }
  }
  if (!read_ahead_.holds(file_index, offset, size)) {
    auto it = files_.find(file_index);
    if (it == files_.end()) return ENOENT;
    ReadableFile* reader = it->second.reader.get();
    if (!reader) return ENOENT;
    // The record and what follows it, up to kReadAheadSize bytes in all and
    // not past what the file holds.
    const std::uint64_t written = it->second.size;
    std::size_t length = size;
    if (written > offset + size)
      length = static_cast<std::size_t>(
          std::min<std::uint64_t>(std::max(size, kReadAheadSize), written - offset));
    read_ahead_.forget();
    read_ahead_.bytes.resize(length);
    if (int rc = reader->read_at(offset, read_ahead_.bytes.data(), length); rc != 0) return rc;
    read_ahead_.file_index = file_index;
    read_ahead_.start = offset;
  }
  out = std::string_view(read_ahead_.bytes).substr(offset - read_ahead_.start, size);
  return 0;
}

bool Wal::copy_body(const Job& job, char* dest) {
  const std::size_t size = full_size(job);
  std::string_view bytes;
  const int rc = read_record(job.wal_file, job.log_offset(), size, bytes);
  JobRecord r;
  const bool intact = rc == 0 && intact_record_at(bytes, 0) == size &&
                      static_cast<RecordType>(bytes[8]) == RecordType::JobFull &&
                      decode_record(RecordType::JobFull, bytes.substr(kRecordHeaderSize), r) &&
                      r.id == job.id && r.body.size() == job.body_size;
  if (!intact) {
    ++stats_.body_read_failures;
    spdlog::error("cannot read job {}'s body back from log file {} at offset {}: {}", job.id,
                  file_name(job.wal_file), job.log_offset(),
                  rc != 0 ? std::strerror(rc) : "the record there is not intact");
    return false;
  }
  std::memcpy(dest, r.body.data(), r.body.size());
  return true;
}

void Wal::detach_from_file(Job& job) {
  auto it = files_.find(job.wal_file);
  if (it == files_.end()) return;
  --it->second.live_jobs;
  it->second.live_bytes -= full_size(job);
  job.wal_file = 0;
}

Job* Wal::record_put(Job* job) {
  // A new job's body is in memory, so appending it fails only for lack of
  // memory, by throwing before it changes anything.
  const std::optional<std::uint64_t> offset = append_full(*job);
  if (!offset || !keeps_body(job->body_size, *offset)) return job;
  return Job::without_body(job, *offset);
}

std::uint64_t Wal::update_room() const {
  if (failed_) return 0;
  if (!full_) return UINT64_MAX;
  const std::uint64_t reserve = options_.file_size / kDeleteReserveShare;
  const std::uint64_t limit = options_.file_size - reserve + reserve / kUpdateShareOfReserve;
  return append_size_ < limit ? (limit - append_size_) / kJobUpdateRecordSize : 0;
}

void Wal::record_update(Job& job, Update update) {
  if (leaves_out(update)) return;
  // Made already by the store, except for timeouts, which run off the
  // timer: without memory, their record (counters only) is left out.
  try {
    make_room_for_update(update);
  } catch (const std::bad_alloc&) {
    if (update == Update::CountersOnly) return;
    throw;
  }
  reserve_room(kJobUpdateRecordSize);
  encode_job_update(to_record(job), chunk_for_append(kJobUpdateRecordSize).bytes);
  note_appended();
}

void Wal::record_delete(Job& job) {
  make_room_for_delete();  // made already by the store
  reserve_room(kJobDeleteRecordSize);
  encode_job_delete(job.id, chunk_for_append(kJobDeleteRecordSize).bytes);
  note_appended();
  detach_from_file(job);
  collect_obsolete_files();
}

// --- compaction and deletion -----------------------------------------------------

// Keeps the log within twice the live data plus two files: while it is
// larger, the oldest file's live jobs are written again at the end, after
// which that file is obsolete.
//
// A job's copy is whole or not made: compaction that runs out of memory
// leaves the file with the jobs it has not copied yet.
void Wal::compact() {
  while (files_.size() > 1) {
    auto& [index, oldest] = *files_.begin();
    if (index >= current_index_ || index == append_index_) break;
    if (disk_bytes() <= 2 * live_bytes() + 2 * options_.file_size) break;
    const std::uint32_t oldest_index = index;
    // Their bodies could not be read back, or the log became full: the
    // reserve is for deletes, not copies.
    IdRuns staying;
    oldest.job_ids.for_each([&](std::uint64_t id) {
      Job* job = store_->find_job(id);
      if (!job || job->wal_file != oldest_index) return;
      if (!full_ && append_full(*job)) {
        ++stats_.records_migrated;
      } else {
        staying.push_back(id);
      }
    });
    oldest.job_ids = std::move(staying);
    const std::size_t before = files_.size();
    collect_obsolete_files();
    if (files_.size() == before) break;
  }
}

// Compaction is due when a new file was started: it runs here, at the end of
// the turn, rather than at the append that started the file, since it
// allocates. Without memory it is tried again at the next turn.
void Wal::compact_if_due() {
  if (!compaction_due_) return;
  compaction_due_ = false;
  try {
    compact();
  } catch (const std::bad_alloc&) {
    compaction_due_ = true;
  }
}

// The oldest file that may still be written to: the open one, or an earlier
// one whose records are not yet durable (a failed sync writes them again).
std::uint32_t Wal::oldest_file_in_use() const {
  std::uint32_t oldest = current_index_;
  if (!unsynced_.empty()) oldest = std::min(oldest, unsynced_.front().file_index);
  if (!filling_.empty()) oldest = std::min(oldest, filling_.front().file_index);
  if (!pending_.empty()) oldest = std::min(oldest, pending_.front().file_index);
  return oldest;
}

void Wal::collect_obsolete_files() {
  while (files_.size() > 1) {
    auto it = files_.begin();
    if (it->first >= oldest_file_in_use() || it->second.live_jobs > 0) break;
    if (!it->second.damaged) doomed_.push_back({it->second.path, appended_seq_});
    if (read_ahead_.file_index == it->first) read_ahead_.forget();
    files_.erase(it);
  }
}

void Wal::delete_doomed() {
  // The current file's header names the oldest file kept before any older
  // one goes (file_sequence.h); a header a failed sync may have lost is
  // written again first, so the removals wait for that.
  if (!current_ || files_[current_index_].header_unwritten) return;
  auto durable = [this](const Doomed& d) { return d.seq <= durable_seq_; };
  std::vector<std::string> paths;
  for (const Doomed& d : doomed_)
    if (durable(d)) paths.push_back(d.path);
  if (paths.empty()) return;
  const OldestFileMark mark{current_, files_[current_index_].path, files_.begin()->first,
                            options_.policy != SyncPolicy::Never};
  // Forgotten only once handed over: an allocation failing before that
  // leaves them doomed, for the next call, rather than on the disk for good.
  auto forget_doomed = [&] {
    doomed_.erase(std::remove_if(doomed_.begin(), doomed_.end(), durable), doomed_.end());
  };
  if (sync_thread_) {
    sync_thread_->remove(std::move(paths), mark);  // counted when it reports back
    forget_doomed();
    return;
  }
  forget_doomed();
  if (mark.write(paths.size()) != 0) return;
  bool removed = false;
  for (const std::string& path : paths) {
    int rc = fs_.remove(path);
    if (rc != 0 && rc != ENOENT) {
      spdlog::warn("cannot remove obsolete log file {}: {}", path, std::strerror(rc));
    } else {
      ++stats_.files_deleted;
      removed = true;
    }
  }
  if (removed) fs_.sync_dir(options_.dir);
}

// --- writing and syncing ----------------------------------------------------------

// Creates log file `index` with its header. Its creation is made durable
// here when syncs run on the loop; with a sync thread, by the thread, along
// with the file's first records (until then a crash can leave it empty or
// zero-filled, which recovery removes: it held nothing).
bool Wal::open_file(std::uint32_t index) {
  LogFile& file = files_[index];
  if (file.path.empty()) file.path = options_.dir + "/" + file_name(index);
  if (!file.prepared) {
    std::unique_ptr<WritableFile> created;
    if (int rc = create_preallocated(file.path, created); rc != 0) {
      ++stats_.write_failures;
      fail("creating " + file.path, rc);
      return false;
    }
    file.prepared = std::move(created);
  }
  file.writer = std::move(file.prepared);
  file.reader = file.writer;
  file.first_job_id = store_->last_job_id() + 1;
  file.created_durably = options_.policy == SyncPolicy::Never;
  file.header_unwritten = true;
  current_ = file.writer;
  current_index_ = index;
  zeroed_until_ = 0;
  if (!write_header(index)) return false;
  if (!sync_thread_ && options_.policy != SyncPolicy::Never) {
    int rc = current_->sync();
    if (rc == 0) rc = fs_.sync_dir(options_.dir);
    if (rc != 0) {
      ++stats_.sync_failures;
      file.header_unwritten = true;
      fail("syncing the new " + file.path, rc);
      return false;
    }
    file.created_durably = true;
  }
  return true;
}

// (Re)writes file `index`'s header over whatever it holds.
bool Wal::write_header(std::uint32_t index) {
  LogFile& file = files_[index];
  std::string header;
  encode_file_header({index, file.first_job_id, files_.begin()->first}, header);
  // A new file is empty (and keeps its preallocated space).
  int rc = file.writer->position() == 0 ? 0 : file.writer->truncate(0);
  if (rc == 0) rc = file.writer->append(header.data(), header.size());
  if (rc != 0) {
    ++stats_.write_failures;
    fail("writing the header of " + file.path, rc);
    return false;
  }
  if (index == current_index_) zeroed_until_ = std::min(zeroed_until_, header.size());
  if (index == current_index_ || index == read_ahead_.file_index) read_ahead_.forget();
  file.size = header.size();
  file.header_unwritten = false;
  stats_.bytes_written += header.size();
  return true;
}

// A file that will get no more records gives back its zero-filled
// preallocated tail, so that closed files take only the disk space their
// records need (the compaction bound counts those bytes). A failure here
// costs disk space, not data: it is only logged.
void Wal::release_preallocation() {
  auto it = files_.find(current_index_);
  if (it == files_.end()) return;
  if (int rc = current_->truncate(it->second.size); rc != 0) {
    spdlog::warn("cannot give back the unused end of {}: {}", it->second.path, std::strerror(rc));
  }
}

// Closes the current file and opens the next. The closed file's last sync
// goes to the sync thread, ahead of any sync of the new file; without one
// it runs here.
bool Wal::rotate_to(std::uint32_t index) {
  if (current_) {
    release_preallocation();
    if (needs_sync()) {
      if (sync_thread_) {
        request_sync(current_index_, written_seq_);
      } else {
        sync_now();
        if (failed_) return false;
      }
    }
    // It goes on serving the bodies its records hold (LogFile::reader).
    current_.reset();
  }
  if (!open_file(index)) return false;
  collect_obsolete_files();
  delete_doomed();
  warn_if_files_crowd_out_connections();
  return true;
}

// Each log file keeps a descriptor open for reading bodies back
// (LogFile::reader). A log of many files under a low open-file limit leaves
// few for connections, whose accepts would then fail with no hint why; so
// say it when the files take more than a quarter of the limit: at the
// start, and when a new file crosses that share.
void Wal::warn_if_files_crowd_out_connections() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
  const std::uint64_t files = files_.size();
  const bool crowded = files * 4 > limit.rlim_cur;
  if (crowded && !warned_of_descriptors_) {
    spdlog::warn(
        "the write-ahead log keeps {} files open, more than a quarter of the open-file limit "
        "{}, leaving about {} descriptors for connections; raise the limit with ulimit -n or "
        "systemd's LimitNOFILE=",
        files, limit.rlim_cur, limit.rlim_cur > files ? limit.rlim_cur - files : 0);
  }
  warned_of_descriptors_ = crowded;
}

// -f 0 syncs thousands of times a second, each after a few hundred bytes.
// In a preallocated file the first write into each block converts it (on
// ext4, an unwritten extent becomes a written one), so a sync that covers
// such a write also commits the file system's journal: nearly every sync
// did. Keeping zeros written up to a mebibyte ahead of the records (topped
// up half a mebibyte at a time) leaves that to one sync per 128 blocks; the
// others only overwrite.
void Wal::zero_ahead() {
  const std::uint64_t position = current_->position();
  if (position + kZeroAhead / 2 <= zeroed_until_) return;
  const std::uint64_t from = std::max(position, zeroed_until_);
  const std::uint64_t to = std::min(position + kZeroAhead, options_.file_size);
  // Only a speed-up: a failure here leaves blocks to convert as before.
  if (to > from && current_->write_zeros(from, to - from) == 0) zeroed_until_ = to;
}

void Wal::write_pending() {
  while (!pending_.empty() && !failed_) {
    Chunk& chunk = pending_.front();
    if (chunk.records == 0) {  // a spare no record took
      pending_.pop_front();
      continue;
    }
    if (!current_ || chunk.file_index > current_index_) {
      if (!rotate_to(chunk.file_index)) return;
    }
    // An earlier file only when a failed sync has its records written again.
    LogFile& file = files_[chunk.file_index];
    if (file.header_unwritten && !write_header(chunk.file_index)) return;
    WritableFile& out = *file.writer;
    // The chunk's place among the written ones comes first: taking it after
    // the write could fail for lack of memory, leaving the chunk both
    // written and queued to be written again.
    std::deque<Chunk>* written = &unsynced_;
    if (options_.policy == SyncPolicy::Never)
      written = chunk.placed && sync_thread_ ? &filling_ : nullptr;
    if (written) written->emplace_back(chunk.file_index, chunk.start, chunk.end_seq);
    const std::uint64_t before = out.position();
    int rc = 0;
    try {
      rc = write_chunk(chunk, out);
    } catch (const std::bad_alloc&) {
      rc = ENOMEM;  // handing a placed record to the sync thread
    }
    if (rc != 0) {
      if (written) written->pop_back();
      // Leave no partial record behind; the chunk stays queued for a retry.
      out.truncate(before);
      read_ahead_.forget();
      if (chunk.file_index == current_index_) zeroed_until_ = std::min(zeroed_until_, before);
      ++stats_.write_failures;
      fail("writing " + file.path, rc);
      return;
    }
    file.size += chunk.extent();
    if (options_.policy == SyncPolicy::Always && chunk.file_index == current_index_) zero_ahead();
    stats_.bytes_written += chunk.extent();
    stats_.records_written += chunk.records;
    written_seq_ = chunk.end_seq;
    // -F: durable once written; the fill of a placed record reads the job's
    // body, which the chunk keeps pinned till then (filling_).
    if (options_.policy == SyncPolicy::Never) durable_seq_ = written_seq_;
    if (written) written->back() = std::move(chunk);
    pending_.pop_front();
  }
}

// -F: a failed fill (and the ones the sync thread dropped after it) is done
// again here, in the place its placeholder holds; with a sync policy the
// failure sends those records back to be written again instead.
void Wal::refill() {
  for (const Chunk& chunk : filling_) {
    if (chunk.placed->sequence <= placed_seq_) continue;
    // Kept while it has a fill to come (oldest_file_in_use).
    LogFile& file = files_.at(chunk.file_index);
    if (int rc = fill_placed_record(*file.writer, *chunk.placed); rc != 0) {
      ++stats_.write_failures;
      fail("writing " + file.path, rc);
      return;
    }
    placed_seq_ = chunk.placed->sequence;
  }
  filling_.clear();
}

// Writes `chunk` at the append position of `out`: its bytes or, for a placed
// record, its placeholder, leaving the rest to the fill (on the sync thread,
// ahead of any sync that covers it).
int Wal::write_chunk(Chunk& chunk, WritableFile& out) {
  if (int rc = out.append(chunk.bytes.data(), chunk.bytes.size()); rc != 0) return rc;
  if (!chunk.placed) return 0;
  out.skip(chunk.extent() - chunk.bytes.size());
  if (sync_thread_) {
    sync_thread_->place(files_[chunk.file_index].writer, chunk.placed);
    return 0;
  }
  const int rc = fill_placed_record(out, *chunk.placed);
  if (rc == 0) placed_seq_ = std::max(placed_seq_, chunk.placed->sequence);
  return rc;
}

void Wal::flush() {
  if (!failed_) compact_if_due();
  // A placement no command took (compaction's) holds no reply.
  new_placement_seq_ = 0;
  if (failed_) return;
  try {
    write_and_sync();
  } catch (const std::bad_alloc&) {
    fail_for_lack_of_memory();
  }
}

void Wal::write_and_sync() {
  write_pending();
  if (failed_) return;
  switch (options_.policy) {
    case SyncPolicy::Never:
      delete_doomed();
      break;
    case SyncPolicy::Always:
      maybe_start_sync();
      break;
    case SyncPolicy::Interval:
      if (written_seq_ > durable_seq_ && interval_sync_at_ == kNoTimer) {
        const Nanos due = last_sync_start_ + options_.sync_interval;
        if (clock_->now() >= due) {
          maybe_start_sync();
        } else {
          interval_sync_at_ = due;
        }
      }
      break;
  }
}

// Something written is not durable yet: records, or the current file's
// creation.
bool Wal::needs_sync() const {
  if (options_.policy == SyncPolicy::Never) return false;
  if (written_seq_ > durable_seq_) return true;
  auto it = files_.find(current_index_);
  return current_ && it != files_.end() && !it->second.created_durably;
}

void Wal::maybe_start_sync() {
  if (failed_ || written_seq_ <= durable_seq_) return;
  last_sync_start_ = clock_->now();
  interval_sync_at_ = kNoTimer;
  if (sync_thread_) {
    // Starts a sync, or has one follow the running one.
    request_sync(current_index_, written_seq_);
  } else {
    sync_now();
  }
}

void Wal::request_sync(std::uint32_t index, std::uint64_t sequence) {
  LogFile& file = files_[index];
  if (!file.created_durably && file.creation_asked_at == 0) file.creation_asked_at = sequence;
  sync_thread_->request(file.writer, sequence, !file.created_durably);
}

// Syncs, here and now, every file holding records not yet durable, oldest
// first, and the directory after a file whose creation is not yet durable.
void Wal::sync_now() {
  if (sync_thread_) {  // the fills it still has to do come first
    handle_sync_result(sync_thread_->wait_idle());
    if (failed_) return;
  }
  // What it allocates comes before the first sync: a failed sync whose
  // result were then lost to an allocation would be retried as if it had
  // never happened, and succeed without the pages it dropped.
  std::vector<std::uint32_t> indexes;
  indexes.reserve(unsynced_.size() + 1);
  for (const Chunk& chunk : unsynced_)
    if (indexes.empty() || indexes.back() != chunk.file_index) indexes.push_back(chunk.file_index);
  if (current_ && (indexes.empty() || indexes.back() != current_index_))
    indexes.push_back(current_index_);
  SyncThread::Result result;
  result.durations.reserve(indexes.size());
  for (std::uint32_t index : indexes) {
    LogFile& file = files_[index];
    if (file.header_unwritten && !write_header(index)) return;
    const Nanos started = clock_->now();
    result.error = file.writer->sync();
    if (result.error == 0 && !file.created_durably) result.error = fs_.sync_dir(options_.dir);
    result.durations.push_back(clock_->now() - started);
    if (result.error != 0) break;
    file.created_durably = true;
    for (const Chunk& chunk : unsynced_)
      if (chunk.file_index == index) result.sequence = chunk.end_seq;
  }
  if (result.error == 0) result.sequence = written_seq_;
  if (result.sequence <= durable_seq_) result.sequence = 0;
  handle_sync_result(result);
}

void Wal::note_sync_latency(std::int64_t nanos) {
  const double seconds = static_cast<double>(nanos) / 1e9;
  ++stats_.syncs;
  stats_.sync_seconds_total += seconds;
  std::size_t bucket = 0;
  while (bucket < kSyncLatencyBounds.size() && seconds > kSyncLatencyBounds[bucket]) ++bucket;
  ++stats_.sync_latency_buckets[bucket];
}

void Wal::handle_sync_result(const SyncThread::Result& result) {
  for (std::int64_t nanos : result.durations) note_sync_latency(nanos);
  stats_.files_deleted += result.removed;
  placed_seq_ = std::max(placed_seq_, result.placed);
  while (!filling_.empty() && filling_.front().end_seq <= placed_seq_) filling_.pop_front();
  // What the syncs before any failure made durable stays durable.
  bool closed_file_synced = false;
  while (!unsynced_.empty() && unsynced_.front().end_seq <= result.sequence) {
    closed_file_synced = closed_file_synced || unsynced_.front().file_index != current_index_;
    unsynced_.pop_front();
  }
  durable_seq_ = std::max(durable_seq_, result.sequence);
  // Newest first: files are created durably in order.
  for (auto it = files_.rbegin(); it != files_.rend() && !it->second.created_durably; ++it) {
    const std::uint64_t asked = it->second.creation_asked_at;
    if (asked != 0 && asked <= durable_seq_) it->second.created_durably = true;
  }
  if (result.error != 0) {
    ++stats_.sync_failures;
    const std::uint32_t failed_index =
        unsynced_.empty() ? current_index_ : unsynced_.front().file_index;
    // Failed before anything below allocates: without memory for it, the
    // retry finds the log failed and the cut-back still to do.
    mark_failed(result.error);
    cut_back_unsynced();
    fail("syncing " + files_[failed_index].path, result.error);
    return;
  }
  // A file the log moved on from may have been kept only for its last sync.
  if (closed_file_synced) collect_obsolete_files();
  delete_doomed();
}

// After a failed fsync the kernel may have dropped the dirty pages, and a
// second fsync can succeed without them: cut every file back to what is
// known durable and queue those records to be written again.
//
// Nothing changes until the chunks are back in pending_, which is the one
// step that allocates; if it throws, unsynced_lost_ has the retry do it all
// again first.
void Wal::cut_back_unsynced() {
  unsynced_lost_ = true;
  read_ahead_.forget();
  // pending_ becomes unsynced_ then pending_, built at the end of unsynced_
  // so that a failed allocation can put the pending chunks back.
  const std::size_t unsynced_count = unsynced_.size();
  std::size_t moved = 0;
  try {
    for (Chunk& chunk : pending_) {
      unsynced_.push_back(std::move(chunk));
      ++moved;
    }
  } catch (const std::bad_alloc&) {
    for (; moved > 0; --moved) {
      pending_[moved - 1] = std::move(unsynced_.back());
      unsynced_.pop_back();
    }
    throw;
  }
  pending_.swap(unsynced_);
  unsynced_.clear();
  std::uint32_t previous = 0;
  for (std::size_t i = 0; i < unsynced_count; ++i) {
    const Chunk& chunk = pending_[i];
    if (chunk.file_index == previous) continue;
    previous = chunk.file_index;
    LogFile& file = files_[chunk.file_index];
    file.writer->truncate(chunk.start);
    file.size = chunk.start;  // the retry writes the rest again
    if (chunk.file_index == current_index_) zeroed_until_ = std::min(zeroed_until_, chunk.start);
  }
  // A file whose creation was not durable may have lost its header too.
  for (auto it = files_.rbegin(); it != files_.rend() && !it->second.created_durably; ++it) {
    it->second.header_unwritten = true;
    it->second.creation_asked_at = 0;
  }
  written_seq_ = durable_seq_;
  unsynced_lost_ = false;
}

void Wal::on_sync_done() {
  if (!sync_thread_) return;
  // Group commit: whatever was written meanwhile is already in the next
  // sync, which the thread started on its own.
  try {
    handle_sync_result(sync_thread_->collect());
  } catch (const std::bad_alloc&) {
    fail_for_lack_of_memory();
    return;
  }
  if (options_.policy == SyncPolicy::Interval && written_seq_ > durable_seq_ &&
      interval_sync_at_ == kNoTimer)
    interval_sync_at_ = last_sync_start_ + options_.sync_interval;
}

// A failure is logged when it starts, when it changes, and once a minute
// while it lasts (FailureEpisode); the retries in between, one a second,
// stay quiet.
void Wal::fail(const std::string& what, int error) {
  // The retry comes whatever the message costs (it allocates, and may
  // throw std::bad_alloc for fail_for_lack_of_memory to report instead).
  mark_failed(error);
  report_failure(what + ": " + std::strerror(error),
                 "refusing changes (put answers OUT_OF_MEMORY) and retrying every second");
}

// Failed from now on, with its retry due in a second; allocates nothing, so
// it holds whatever reporting the failure then costs.
void Wal::mark_failed(int error) {
  failed_ = true;
  failure_error_ = error;
  retry_at_ = clock_->now() + kRetryInterval;
}

// Memory ran out while writing or syncing: as after a failed write, the log
// refuses changes and retries every second (write_everything_again). Every
// step of the writing leaves its bookkeeping whole when an allocation
// throws.
void Wal::fail_for_lack_of_memory() {
  mark_failed(ENOMEM);
  try {
    report_failure("writing: out of memory",
                   "refusing changes (put answers OUT_OF_MEMORY) and retrying every second");
  } catch (const std::bad_alloc&) {
    // Not even the message: the retries go on regardless.
  }
}

// Logs a failure (failed_ or full_, already set) and schedules its retry.
// Allocates nothing.
void Wal::report_failure(std::string failure, const char* consequence) {
  const Nanos now = clock_->now();
  retry_at_ = now + kRetryInterval;
  if (opening_) {
    failure_ = std::move(failure);
    return;
  }
  switch (failure_episode_.failed(now, failure != failure_)) {
    case FailureEpisode::Report::Start:
      spdlog::error("write-ahead log failed {}; {}", failure, consequence);
      break;
    case FailureEpisode::Report::Reminder:
      spdlog::error("write-ahead log still failing after {} s ({} retries): {}",
                    failure_episode_.lasted(now) / kNanosPerSecond, failure_episode_.retries(),
                    failure);
      break;
    case FailureEpisode::Report::Quiet:
      break;
  }
  failure_ = std::move(failure);
}

Nanos Wal::next_deadline() const {
  if (failed_) return retry_at_;
  // Full, the deletes it accepts are synced as usual.
  return full_ ? std::min(retry_at_, interval_sync_at_) : interval_sync_at_;
}

void Wal::on_timer() {
  const Nanos now = clock_->now();
  if ((failed_ || full_) && now >= retry_at_) {
    if (failed_) write_everything_again();
    if (!failed_ && full_ && prepare_file(append_index_ + 1)) full_ = false;
    if (failed_ || full_) {
      retry_at_ = now + kRetryInterval;
    } else {
      const Nanos lasted = failure_episode_.end(now);
      spdlog::info(
          "write-ahead log is writable again after {:.1f} s ({} retries); accepting changes",
          static_cast<double>(lasted) / kNanosPerSecond, failure_episode_.retries());
      failure_.clear();
    }
  }
  if (failed_) return;
  if (interval_sync_at_ != kNoTimer && now >= interval_sync_at_) {
    interval_sync_at_ = kNoTimer;
    try {
      maybe_start_sync();
    } catch (const std::bad_alloc&) {
      fail_for_lack_of_memory();
    }
  }
}

// Clears a failure and tries again what it left undone: fills, writes, and
// the sync the policy asks for. Sets failed_ again if any of it fails,
// running out of memory included.
void Wal::write_everything_again() {
  try {
    // Only removals can still run there: a failure drops the queued syncs.
    if (sync_thread_) handle_sync_result(sync_thread_->wait_idle());
    // A failed sync whose cut-back ran out of memory: that first.
    if (unsynced_lost_) cut_back_unsynced();
    failed_ = false;
    refill();
    if (!failed_) write_pending();
    if (!failed_ && needs_sync()) sync_now();
  } catch (const std::bad_alloc&) {
    fail_for_lack_of_memory();
  }
}

void Wal::close() {
  if (!opened_) return;
  opened_ = false;
  // Also after a failure: it may have passed since the last retry (space
  // freed).
  write_everything_again();
  // The fills of large records just handed to the sync thread (-F syncs
  // nothing, so nothing above waited for them): their puts are answered
  // once they are done.
  if (sync_thread_ && !failed_) handle_sync_result(sync_thread_->wait_idle());
  // A file created ahead of records that never came (prepare_file).
  for (auto& [index, file] : files_) {
    if (!file.prepared) continue;
    file.prepared.reset();
    fs_.remove(file.path);
  }
  if (!failed_) {
    release_preallocation();
    spdlog::info("write-ahead log synced ({} records written)", stats_.records_written);
    return;
  }
  std::uint64_t unwritten = 0;
  for (const Chunk& chunk : pending_) unwritten += chunk.records;
  spdlog::error(
      "write-ahead log not fully written at shutdown: {}; the last {} changes were not "
      "written and are lost (their replies were held back)",
      failure_, unwritten);
}

}  // namespace beanstalkd::wal
