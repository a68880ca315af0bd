// Wal::open: replaying a log directory into the store at start-up.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

#include "beanstalkd/wal/file_sequence.h"
#include "beanstalkd/wal/log_reader.h"
#include "beanstalkd/wal/reference_import.h"
#include "beanstalkd/wal/wal.h"

namespace beanstalkd::wal {

namespace {

constexpr std::string_view kImportedDir = "imported-reference-binlog";

// Applies the state fields of a record to a job being recovered.
void apply_state(Job& job, const JobRecord& r, Nanos wall_to_mono) {
  job.priority = r.priority;
  job.delay_seconds = r.delay_seconds;
  // A job reserved when the server stopped is ready again.
  job.state = r.state == JobState::Reserved ? JobState::Ready : r.state;
  // A ready job nothing was done to yet needs no activity (see JobActivity).
  if (job.state == JobState::Ready && !r.counts.any() && !job.has_activity()) return;
  JobActivity& activity = job.activity_to_change();
  activity.deadline_at = 0;
  if (job.state == JobState::Delayed) activity.deadline_at = r.ready_at_wall + wall_to_mono;
  if (job.state == JobState::Buried) activity.deadline_at = static_cast<Nanos>(r.bury_order);
  activity.counts = r.counts;
}

Job* make_job(Store& store, std::uint64_t id, std::string_view tube, std::string_view body) {
  Job* job = Job::allocate(id, static_cast<std::uint32_t>(body.size()));
  if (!job) return nullptr;
  std::memcpy(job->body_with_crlf(), body.data(), body.size());
  job->body_with_crlf()[body.size()] = '\r';
  job->body_with_crlf()[body.size() + 1] = '\n';
  job->tube = store.recovery_tube(tube);
  store.adopt(job);
  return job;
}

// A job whose body stays in its full record, at `record_offset` of the file
// being replayed (Wal::copy_body reads it back).
Job* make_job_body_in_log(Store& store, std::uint64_t id, std::string_view tube,
                          std::uint32_t body_size, std::uint64_t record_offset) {
  Job* job = Job::allocate_body_in_log(id, body_size);
  if (!job) return nullptr;
  job->set_log_offset(record_offset);
  job->tube = store.recovery_tube(tube);
  store.adopt(job);
  return job;
}

}  // namespace

bool Wal::open(Store& store, std::string& error, RecoveryReport& report) {
  store_ = &store;
  clock_ = &store.clock();
  lock_fd_ = lock_directory(options_.dir, error);
  if (lock_fd_ < 0) return false;
  const auto started = std::chrono::steady_clock::now();
  opening_ = true;
  const bool recovered = recover(error, report);
  opening_ = false;
  if (!recovered) return false;
  opened_ = true;
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  store.set_journal(this);
  return true;
}

// A new file's creation becomes durable with its first records' sync, on
// the sync thread; a crash before that can leave the newest files empty or
// zero-filled. They never held a record: remove them rather than report
// them damaged. Only the newest: an empty file before a file with records
// is damage.
void Wal::drop_unborn_files(std::vector<std::uint32_t>& indexes) {
  while (!indexes.empty()) {
    const std::string path = options_.dir + "/" + file_name(indexes.back());
    // A header says the file was born; only a file without one is read
    // whole (it is empty, or zeros up to its preallocated size).
    std::unique_ptr<ReadableFile> reader;
    char head[kFileHeaderSize];
    if (fs_.open_for_read(path, reader) != 0) return;
    auto nonzero = [](char c) { return c != 0; };
    if (reader->read_at(0, head, sizeof head) == 0 &&
        std::any_of(head, head + sizeof head, nonzero))
      return;
    std::string bytes;
    if (fs_.read_file(path, bytes) != 0 || std::any_of(bytes.begin(), bytes.end(), nonzero)) return;
    spdlog::info("log file {} holds nothing (created just before the server stopped); removing it",
                 path);
    fs_.remove(path);
    indexes.pop_back();
  }
}

bool Wal::recover(std::string& error, RecoveryReport& report) {
  Store& store = *store_;
  std::vector<std::string> names;
  if (int rc = fs_.list_dir(options_.dir, names); rc != 0) {
    error = "cannot list " + options_.dir + ": " + std::strerror(rc);
    return false;
  }
  auto [indexes, set_aside] = log_file_indexes(names);
  drop_unborn_files(indexes);

  const Nanos wall_to_mono = clock_->now() - wall_clock_now();
  std::uint64_t next_id = 1;
  // No record so far names an id above this, so a job with a higher id is
  // new: most records are, and skipping the index lookup (a cache miss in
  // a large table) for them saves a quarter of the replay time.
  std::uint64_t highest_id_seen = 0;
  bool newest_is_empty = false;  // a start with no change since: its file is reused
  std::vector<std::uint32_t> damaged;
  std::uint32_t oldest_needed = 0;  // as the newest intact header says
  std::string bytes;
  for (std::size_t i = 0; i < indexes.size(); ++i) {
    const std::uint32_t index = indexes[i];
    const std::string path = options_.dir + "/" + file_name(index);
    // The reader serves the bodies recovered jobs leave in the file.
    std::unique_ptr<ReadableFile> reader;
    int rc = fs_.open_for_read(path, reader);
    if (rc == 0) rc = fs_.read_file(path, bytes);
    if (rc != 0) {
      // Not damage but the machine's state (permissions, the descriptor
      // limit, a disk error): going on without the file would drop its
      // jobs for good, so stop with every file as it was.
      error = "cannot read log file " + path + ": " + std::strerror(rc) + "; nothing was changed. ";
      if (rc == EMFILE || rc == ENFILE) {
        error += "The server keeps each of the " + std::to_string(indexes.size()) +
                 " log files open: raise the open-file limit (ulimit -n, LimitNOFILE=) "
                 "and start again";
      } else {
        error += "Make it readable by the server's user and start again, or move it out of " +
                 options_.dir + " to start without its jobs";
      }
      return false;
    }
    ++report.files;
    std::uint64_t malformed = 0;
    IdRuns full_records;  // in record order: mostly ascending ids
    FileScan scan = scan_log_file(bytes, index, [&](RecordType type, std::string_view payload) {
      JobRecord r;
      if (!decode_record(type, payload, r)) {
        ++malformed;
        return;
      }
      next_id = std::max(next_id, r.id + 1);
      Job* job = r.id > highest_id_seen ? nullptr : store.find_job(r.id);
      highest_id_seen = std::max(highest_id_seen, r.id);
      // Puts come in id order: the next record is most likely the next id.
      store.prefetch_job_slot(r.id + 1);
      switch (type) {
        case RecordType::JobFull: {
          const std::uint64_t offset =
              static_cast<std::uint64_t>(payload.data() - bytes.data()) - kRecordHeaderSize;
          if (!job) {
            job = keeps_body(r.body.size(), offset)
                      ? make_job_body_in_log(store, r.id, r.tube,
                                             static_cast<std::uint32_t>(r.body.size()), offset)
                      : make_job(store, r.id, r.tube, r.body);
          } else if (job->body_in_log) {
            job->set_log_offset(offset);  // the newer copy (compaction wrote it)
          }
          if (!job) return;
          full_records.push_back(r.id);
          job->ttr_seconds = std::max<std::uint32_t>(r.ttr_seconds, 1);
          job->created_at = r.created_at_wall + wall_to_mono;
          job->wal_file = index;
          apply_state(*job, r, wall_to_mono);
          break;
        }
        case RecordType::JobUpdate:
          if (job) apply_state(*job, r, wall_to_mono);
          break;
        case RecordType::JobDelete:
          if (job) store.forget(job);
          break;
        case RecordType::Placeholder:  // skipped by the scan
          break;
      }
    });
    if (!scan.header_ok) {
      spdlog::error("log file {}: {}; keeping it as {}.damaged", path, scan.header_error,
                    file_name(index));
      damaged.push_back(index);
      continue;
    }
    next_id = std::max(next_id, scan.header.next_job_id);
    oldest_needed = scan.header.oldest_needed;
    report.records += scan.records;
    if (scan.placeholders > 0)
      spdlog::info(
          "log file {}: skipped {} large records the last stop kept from being written "
          "(their puts had not been answered)",
          path, scan.placeholders);
    LogFile& file = files_[index];
    file.path = path;
    file.size = scan.valid_end;
    file.job_ids = std::move(full_records);
    file.reader = std::move(reader);
    bool is_damaged = !scan.damage.empty() || malformed > 0;
    for (const DamagedRange& d : scan.damage)
      spdlog::error(
          "log file {}: {} damaged bytes at offset {}; the intact records after them "
          "were recovered",
          path, d.length, d.offset);
    if (malformed > 0)
      spdlog::error("log file {}: {} records with a good checksum but bad contents", path,
                    malformed);
    if (!scan.torn_tail && scan.damage.empty() && bytes.size() > scan.valid_end) {
      // The zero-filled preallocation of a file the last run did not fill
      // (or a crash kept from being cut back): give the space back.
      fs_.truncate_file(path, scan.valid_end);
    }
    if (i + 1 == indexes.size()) newest_is_empty = scan.records == 0 && !is_damaged;
    if (scan.torn_tail) {
      if (i + 1 == indexes.size()) {
        // A crash in the middle of the last write: normal, cut it off.
        spdlog::info("log file {}: cutting off a torn last record ({} bytes at offset {})", path,
                     scan.torn_bytes, scan.valid_end);
        fs_.truncate_file(path, scan.valid_end);
        ++report.torn_tails;
      } else {
        spdlog::error("log file {}: {} unreadable bytes at its end (offset {})", path,
                      scan.torn_bytes, scan.valid_end);
        is_damaged = true;
      }
    }
    if (is_damaged) {
      file.damaged = true;
      damaged.push_back(index);
    }
  }
  report.damaged_files = damaged.size();
  // A file missing from the middle leaves a gap; the oldest one, only the
  // newest header's mark of the oldest file still needed (file_sequence.h).
  for (const MissingFiles& m : missing_log_files(indexes, set_aside, oldest_needed)) {
    spdlog::warn("log files {} to {} are missing; jobs recorded only there are lost",
                 file_name(m.first), file_name(m.last));
    report.missing_files += m.last - m.first + 1;
  }
  const bool gaps = report.missing_files > 0;

  // A directory written by the reference server: import its jobs once.
  bool imported = false;
  ReferenceImport reference;
  if (has_reference_binlog(options_.dir)) {
    reference = import_reference_binlog(options_.dir);
    for (const std::string& problem : reference.problems)
      spdlog::warn("reference binlog: {}", problem);
    for (const RecoveredJob& rj : reference.jobs) {
      if (store.find_job(rj.id)) continue;  // already imported by an earlier start
      Job* job = make_job(store, rj.id, rj.tube, rj.body);
      if (!job) continue;
      JobRecord r;
      r.priority = rj.priority;
      r.delay_seconds = rj.delay_seconds;
      r.state = rj.state;
      r.ready_at_wall = rj.ready_at_wall;
      r.bury_order = rj.bury_order;
      r.counts = rj.counts;
      apply_state(*job, r, wall_to_mono);
      job->ttr_seconds = std::max<std::uint32_t>(rj.ttr_seconds, 1);
      job->created_at = rj.created_at_wall + wall_to_mono;
      ++report.imported_jobs;
    }
    next_id = std::max(next_id, reference.max_id + 1);
    imported = true;
    spdlog::info("imported {} jobs from the reference server's binlog ({} files)",
                 report.imported_jobs, reference.files.size());
  }

  // Account every live job to the file holding its full record.
  store.for_each_job([&](Job* job) {
    auto it = files_.find(job->wal_file);
    if (it == files_.end()) {
      job->wal_file = 0;
      return;
    }
    ++it->second.live_jobs;
    it->second.live_bytes += job_full_record_size(job->tube->name.size(), job->body_size);
  });
  store.finish_recovery(next_id);
  report.jobs = store.job_count();

  // Write from now on into a new file; one that holds nothing but its
  // header is replaced rather than followed, so that restarts without
  // changes do not pile up files.
  append_index_ = (indexes.empty() ? 0 : indexes.back()) + 1;
  if (newest_is_empty && !gaps) {
    append_index_ = indexes.back();
    files_.erase(append_index_);
  }
  append_size_ = kFileHeaderSize;
  if (!open_file(append_index_)) {
    error = "cannot start a log file in " + options_.dir + ": " + failure_;
    if (failure_error_ == ENOSPC)
      error += " (each log file takes its full size, -s " + std::to_string(options_.file_size) +
               " bytes, when it is created)";
    return false;
  }

  // Damaged, missing or foreign files: rewrite every job into the new file,
  // so those files are no longer needed to restore the state.
  if (imported || !damaged.empty() || gaps) {
    bool all_read = true;
    store.for_each_job([&](Job* job) {
      if (append_full(*job)) {
        ++stats_.records_migrated;
      } else {
        all_read = false;
      }
    });
    if (!all_read) {
      // Renaming the damaged files would strand those jobs: stop instead,
      // with every file as it was.
      error = "cannot read back the bodies of recovered jobs (see above); nothing was changed";
      return false;
    }
    write_pending();
    if (!failed_ && options_.policy != SyncPolicy::Never) sync_now();
    if (failed_) {
      error = "cannot write the recovered jobs to a new log file: " + failure_;
      return false;
    }
    for (std::uint32_t index : damaged) {
      const std::string path = options_.dir + "/" + file_name(index);
      fs_.rename(path, path + ".damaged");
      files_.erase(index);
    }
    if (imported) {
      const std::string kept = options_.dir + "/" + std::string(kImportedDir);
      fs_.make_dir(kept);
      for (const std::string& path : reference.files) {
        fs_.rename(path, kept + path.substr(path.find_last_of('/')));
      }
      spdlog::info("the reference binlog files were moved to {}", kept);
    }
    fs_.sync_dir(options_.dir);
  }
  collect_obsolete_files();
  delete_doomed();
  warn_if_files_crowd_out_connections();
  return true;
}

}  // namespace beanstalkd::wal
