// The write-ahead log: with -b DIR, every change the store makes is
// recorded so a restarted server comes back with exactly the jobs it had.
//
// Records are buffered as the store reports changes and written once at the
// end of each loop turn. Syncing follows the policy: every interval (-f MS,
// with a timer so a burst's tail is synced within MS), before any reply that
// reports a change (-f 0: group commit, one fdatasync per batch, run on a
// background thread while the loop keeps serving), or never (-F).
//
// With a sync thread (a server always has one; tests may not), none of the
// disk's slow work runs on the loop: the syncs, the last sync of a file the
// log moves on from, the directory syncs that make a new file's creation
// durable, the filling of records with bodies of 1 MiB or more (the loop
// writes a placeholder: PlacedRecord), and the removal of obsolete files
// all go to the thread, in order (SyncThread).
//
// The store makes a record's room (make_room_for_record) before it changes
// anything, so recording never fails for lack of memory once a change is
// applied; running out of memory while writing or syncing is handled like a
// failed write.
//
// A failed write or sync is sticky: the log refuses changes (healthy() is
// false) and retries every second, rewriting everything since the last good
// sync, until the disk takes it again.
//
// Each file keeps its last eighth for deletes (kDeleteReserveShare): the
// next file is created, and preallocated, when a record would reach into
// that reserve. If the disk has no room for it the log is full: puts are
// refused, and the other changes' records go into the reserve, so consumers
// can still drain the queue: deletes may use all of it, releases, burials
// and kicks its first quarter (update_room). The deletes make old files
// obsolete, and removing those frees the space the next file needs (the
// reference reserves log space for each job's delete at its put, for the
// same reason). The creation is retried every second.
//
// Jobs leave their bodies in the log (Job::body_in_log), both those put while
// it runs and those recovered at start-up: a body is read back, checksum
// verified, when a client reserves or peeks the job, so memory holds the
// jobs' fields and the page cache, which the kernel can reclaim, the bodies.
//
// Files are deleted oldest first, once no live job's full record is in them
// and the records that made them obsolete are durable. Compaction copies
// the live jobs out of the oldest file when the log holds more than twice
// the live data plus two files (doc/wal-format.md).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "beanstalkd/clock.h"
#include "beanstalkd/failure_episode.h"
#include "beanstalkd/journal.h"
#include "beanstalkd/store.h"
#include "beanstalkd/wal/file_system.h"
#include "beanstalkd/wal/format.h"
#include "beanstalkd/wal/id_runs.h"
#include "beanstalkd/wal/placed_record.h"
#include "beanstalkd/wal/sync_thread.h"

namespace beanstalkd::wal {

enum class SyncPolicy : std::uint8_t {
  Interval,  // -f MS: at most every MS, and within MS of the last write
  Always,    // -f 0: before replying to a change
  Never,     // -F
};

struct WalOptions {
  std::string dir;
  std::uint64_t file_size = 10485760;
  SyncPolicy policy = SyncPolicy::Interval;
  Nanos sync_interval = Nanos{50} * 1000 * 1000;
  // Tests sync inline to stay deterministic.
  bool background_sync = true;
};

// Upper bounds, in seconds, of the sync latency histogram buckets.
inline constexpr std::array<double, 10> kSyncLatencyBounds = {0.0001, 0.0005, 0.001, 0.0025, 0.005,
                                                              0.01,   0.025,  0.05,  0.1,    1.0};

struct WalStats {
  std::uint64_t records_written = 0;
  std::uint64_t records_migrated = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t syncs = 0;
  std::uint64_t write_failures = 0;
  std::uint64_t sync_failures = 0;
  std::uint64_t body_read_failures = 0;  // bodies left in the log not read back intact
  std::uint64_t files_deleted = 0;
  // Syncs per bucket of kSyncLatencyBounds (not cumulative), then +Inf.
  std::array<std::uint64_t, kSyncLatencyBounds.size() + 1> sync_latency_buckets{};
  double sync_seconds_total = 0;
};

struct RecoveryReport {
  std::size_t files = 0;
  std::uint64_t records = 0;
  std::uint64_t jobs = 0;
  std::uint64_t imported_jobs = 0;
  std::size_t torn_tails = 0;
  std::size_t damaged_files = 0;
  std::uint64_t missing_files = 0;  // files the log needed that are not there
  double seconds = 0;
};

// Which bodies stay in the log (keeps_body). Shorter ones stay in memory,
// where they cost at most 32 bytes more than a header-only job (a 128-byte
// malloc chunk against a 96-byte slab slot): not worth a read back each
// time. Longer ones stay in memory too: a body is read back in one piece
// on the event loop, and a reply sends at most 256 KiB a turn so that one
// client's large body does not stall the others; reading a 64 MiB body back
// would (tens of ms). And the job must be able to hold the record's offset
// (a log written with -s above 4 GiB by an earlier build has larger ones).
inline constexpr std::size_t kBodyKeptInLogFrom = 16;
inline constexpr std::size_t kBodyKeptInLogUpTo = std::size_t{256} * 1024;

// The share of each file (1/N) kept for deletes while the disk has no room
// for the next file: with the default -s of 10 MiB, 1.25 MiB, about 77,000
// deletes; a file of 100-byte jobs holds some 49,000.
inline constexpr std::uint64_t kDeleteReserveShare = 8;
// The share of that reserve (1/N, its start) that releases, burials and
// kicks may take too: about 5,300 of them with the default -s, leaving
// room for some 58,000 deletes, still more than a file of 100-byte jobs.
inline constexpr std::uint64_t kUpdateShareOfReserve = 4;

inline bool keeps_body(std::size_t body_size, std::uint64_t record_offset) {
  return body_size >= kBodyKeptInLogFrom && body_size <= kBodyKeptInLogUpTo &&
         record_offset <= Job::kMaxLogOffset;
}
// Bodies read back from the log are never in a record still being placed.
static_assert(kBodyPlacedFrom > kBodyKeptInLogUpTo);

class Wal final : public Journal {
 public:
  Wal(FileSystem& fs, WalOptions options);
  ~Wal() override;
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Locks the directory, replays it into `store` (which must be empty),
  // imports the reference server's binlog files if there are any, starts a
  // new log file and attaches itself to the store. False with `error` when
  // the directory cannot be used.
  bool open(Store& store, std::string& error, RecoveryReport& report);

  // Journal
  Job* record_put(Job* job) override;
  void record_update(Job& job, Update update) override;
  void record_delete(Job& job) override;
  void make_room_for_update(Update update) override;
  void make_room_for_delete() override;
  bool copy_body(const Job& job, char* dest) override;

  // False after a write or sync failure, until a retry succeeds, and while
  // the log is full (no room on the disk for its next file).
  bool healthy() const { return !failed_ && !full_; }
  // The disk had no room for the next file: puts are refused while deletes
  // (and update_room()'s changes) go into the current file's reserve.
  bool full() const { return full_ && !failed_; }
  // Deletes are also accepted while the log is full, as long as the current
  // file's reserve has room for their records.
  bool accepts_deletes() const {
    return !failed_ && (!full_ || append_size_ + kJobDeleteRecordSize <= options_.file_size);
  }
  // How many state changes other than deletes (release, bury, kick) the log
  // can take now: unbounded while healthy, none while failed. While full
  // they may fill the first quarter of the current file's reserve
  // (kUpdateShareOfReserve), so a loop of releases cannot take the room the
  // deletes that free the disk need.
  std::uint64_t update_room() const;
  // Why the log is not healthy.
  const std::string& failure() const { return failure_; }

  // Writes what was recorded and syncs per policy: at the end of each loop
  // turn, and before replies that go out earlier (Server::send_replies_early).
  void flush();
  // Records are waiting for flush() to write them.
  bool has_unwritten() const { return !pending_.empty(); }
  std::size_t unwritten_bytes() const {
    std::size_t total = 0;
    for (const Chunk& chunk : pending_) total += chunk.bytes.size();
    return total;
  }
  // Graceful shutdown: write and sync everything.
  void close();

  // -f 0: replies reporting a change wait until durable_sequence() reaches
  // the appended_sequence() at the time of the change.
  bool holds_replies() const { return options_.policy == SyncPolicy::Always; }
  std::uint64_t appended_sequence() const { return appended_seq_; }
  std::uint64_t durable_sequence() const { return durable_seq_; }
  // A reply reporting a change leaves once reply_watermark() reaches the
  // sequence hold_sequence_for_change() gave right after the change. With
  // -f 0 that is its durability; otherwise only a put of a large body
  // waits, until its record is filled (PlacedRecord): a reply never reports
  // a change before its record is written.
  std::uint64_t hold_sequence_for_change();
  std::uint64_t reply_watermark() const { return holds_replies() ? durable_seq_ : placed_seq_; }
  // Every record up to this sequence has been written to its file: a reply
  // reporting a change leaves only once this reaches the appended_sequence()
  // right after the change, so that a failed write (a full disk) holds it
  // back rather than acknowledging a change the log does not have.
  std::uint64_t written_watermark() const {
    return pending_.empty() ? appended_seq_ : pending_.front().end_seq - pending_.front().records;
  }

  // Time-driven work: the interval sync and failure retries.
  Nanos next_deadline() const;
  void on_timer();
  // Readable when a background sync finished; then call on_sync_done().
  int sync_event_fd() const { return sync_thread_ ? sync_thread_->event_fd() : -1; }
  void on_sync_done();

  const WalStats& stats() const { return stats_; }
  std::uint64_t oldest_file_index() const { return files_.empty() ? 0 : files_.begin()->first; }
  std::uint64_t current_file_index() const { return append_index_; }
  std::uint64_t max_file_size() const { return options_.file_size; }
  std::uint64_t disk_bytes() const;
  std::uint64_t live_bytes() const;

  static std::string file_name(std::uint32_t index);
  // The index in a name "wal.N", or 0 if it is not a log file name.
  static std::uint32_t parse_file_name(const std::string& name);

 private:
  struct LogFile {
    std::string path;
    std::uint64_t size = 0;        // bytes written (or found) in it
    std::uint64_t live_jobs = 0;   // live jobs whose full record is here
    std::uint64_t live_bytes = 0;  // the size of those records
    IdRuns job_ids;                // jobs that had their full record here (some since gone)
    // Reads bodies back: the file's writer for a file this run created, or a
    // reader opened at start-up (one descriptor per file, taken before any
    // client can use them up).
    std::shared_ptr<ReadableFile> reader;
    // A file this run created: written, synced (on the sync thread too, which
    // shares it), and after a failed sync written again.
    std::shared_ptr<WritableFile> writer;
    std::uint64_t first_job_id = 1;  // its header's "next job id"
    // Its header and directory entry are known durable. Until then each sync
    // of it also syncs the directory (creation_asked_at: the sequence of the
    // first such request).
    bool created_durably = true;
    std::uint64_t creation_asked_at = 0;
    // After a failed sync of a file not yet created durably: the kernel may
    // have dropped its header along with its records; write it again first.
    bool header_unwritten = false;
    // Found damaged at start-up: once obsolete it is renamed *.damaged by
    // recovery, never deleted (collect_obsolete_files leaves it alone).
    bool damaged = false;
    // Created and preallocated when the first record was assigned to it
    // (prepare_file), not yet opened for writing (open_file).
    std::shared_ptr<WritableFile> prepared;
  };
  // Keeps a job's body in memory (Job::pin) for as long as it lives.
  class BodyPin {
   public:
    BodyPin() = default;
    explicit BodyPin(Job* job) : job_(job) { job_->pin(); }
    BodyPin(BodyPin&& other) noexcept : job_(std::exchange(other.job_, nullptr)) {}
    BodyPin& operator=(BodyPin&& other) noexcept {
      if (this != &other) {
        release();
        job_ = std::exchange(other.job_, nullptr);
      }
      return *this;
    }
    BodyPin(const BodyPin&) = delete;
    BodyPin& operator=(const BodyPin&) = delete;
    ~BodyPin() { release(); }

   private:
    void release() {
      if (job_) job_->unpin();
      job_ = nullptr;
    }
    Job* job_ = nullptr;
  };
  struct Chunk {
    Chunk(std::uint32_t file, std::uint64_t offset, std::uint64_t sequence)
        : file_index(file), start(offset), end_seq(sequence) {}

    std::uint32_t file_index;
    std::uint64_t start;  // the file offset of bytes[0]
    std::string bytes;
    std::uint64_t records = 0;
    std::uint64_t end_seq = 0;  // sequence of its last record
    // A record written in two steps, alone in its chunk: `bytes` holds its
    // placeholder header; the file, the whole record. The job's body stays
    // pinned until the record is durable (or written, with -F).
    std::shared_ptr<const PlacedRecord> placed;
    BodyPin pin;

    std::uint64_t extent() const { return placed ? placed->size() : bytes.size(); }
  };
  // The bytes of a file that follow the last record read from it: bodies
  // are mostly read in id order, the order of their records, so one read
  // serves the next few hundred.
  struct ReadAhead {
    std::uint32_t file_index = 0;  // 0: none
    std::uint64_t start = 0;       // the file offset of bytes[0]
    std::string bytes;
    bool holds(std::uint32_t file, std::uint64_t offset, std::size_t size) const {
      return file == file_index && offset >= start && offset - start + size <= bytes.size();
    }
    void forget() { file_index = 0; }
  };
  struct Doomed {
    std::string path;
    std::uint64_t seq;  // delete once this is durable
  };

  bool recover(std::string& error, RecoveryReport& report);
  void drop_unborn_files(std::vector<std::uint32_t>& indexes);
  // What a record needs room for besides its bytes (make_room_for_record).
  enum class RecordKind : std::uint8_t {
    Full,    // a job's place in its file's list of ids
    Placed,  // that, and a chunk of its own
    Update,
    Delete,  // room to doom the files it may make obsolete
  };
  void make_room_for_record(std::size_t size, RecordKind kind);
  std::uint32_t file_for_record(std::size_t size);
  static bool appendable(const Chunk& chunk, std::uint32_t index);
  bool leaves_out(Update update) const;
  std::optional<std::uint64_t> append_full(Job& job);
  void append_placed(Job& job, std::shared_ptr<PlacedRecord> placed, std::uint64_t offset);
  int write_chunk(Chunk& chunk, WritableFile& out);
  void refill();
  void detach_from_file(Job& job);
  void reserve_room(std::size_t size);
  std::uint64_t rotation_point() const;
  bool prepare_file(std::uint32_t index);
  int create_preallocated(const std::string& path, std::unique_ptr<WritableFile>& out);
  // Call right after reserve_room(record_size), which follows
  // make_room_for_record.
  Chunk& chunk_for_append(std::size_t record_size);
  int read_record(std::uint32_t file_index, std::uint64_t offset, std::size_t size,
                  std::string_view& out);
  void note_appended();
  JobRecord to_record(const Job& job) const;
  void compact();
  void compact_if_due();
  void collect_obsolete_files();
  void delete_doomed();

  void write_and_sync();
  void write_pending();
  void write_everything_again();
  bool write_header(std::uint32_t index);
  void zero_ahead();
  bool open_file(std::uint32_t index);
  bool rotate_to(std::uint32_t index);
  void release_preallocation();
  std::uint32_t oldest_file_in_use() const;
  bool needs_sync() const;
  void maybe_start_sync();
  void request_sync(std::uint32_t index, std::uint64_t sequence);
  void handle_sync_result(const SyncThread::Result& result);
  void cut_back_unsynced();
  void sync_now();
  void note_sync_latency(std::int64_t nanos);
  void warn_if_files_crowd_out_connections();
  void fail(const std::string& what, int error);
  void mark_failed(int error);
  void fail_for_lack_of_memory();
  void report_failure(std::string failure, const char* consequence);

  FileSystem& fs_;
  WalOptions options_;
  Store* store_ = nullptr;
  const Clock* clock_ = nullptr;
  int lock_fd_ = -1;

  std::map<std::uint32_t, LogFile> files_;
  std::uint32_t append_index_ = 0;         // the file the next record goes to
  std::uint64_t append_size_ = 0;          // that file's size once pending is written
  std::shared_ptr<WritableFile> current_;  // files_[current_index_].writer
  std::uint32_t current_index_ = 0;
  std::uint64_t zeroed_until_ = 0;  // -f 0: current_ holds written zeros up to here

  std::deque<Chunk> pending_;  // recorded, not yet written
  // Written, not yet durable: in current_, and in the file before it while
  // its last sync runs on the sync thread.
  std::deque<Chunk> unsynced_;
  std::deque<Chunk> filling_;  // -F: placed records written, not yet filled
  ReadAhead read_ahead_;
  std::vector<Doomed> doomed_;
  std::uint64_t appended_seq_ = 0;
  std::uint64_t written_seq_ = 0;
  std::uint64_t durable_seq_ = 0;
  std::uint64_t placed_seq_ = 0;         // placed records filled up to here
  std::uint64_t new_placement_seq_ = 0;  // placed since hold_sequence_for_change()

  std::unique_ptr<SyncThread> sync_thread_;
  Nanos last_sync_start_ = 0;
  Nanos interval_sync_at_ = kNoTimer;
  bool failed_ = false;
  // The disk had no room for the next file: puts are refused, and deletes
  // and update_room()'s changes go into the current file's reserve, until a
  // retry creates it.
  bool full_ = false;
  std::string failure_;
  int failure_error_ = 0;  // the errno of failure_
  // In open(): a failure ends the start with an error of its own, so fail()
  // does not announce the running server's retries.
  bool opening_ = false;
  bool opened_ = false;  // open() succeeded and close() has not run
  Nanos retry_at_ = kNoTimer;
  FailureEpisode failure_episode_;  // for the log lines while failed_ lasts
  // A new file was started: compaction runs at the end of the turn.
  bool compaction_due_ = false;
  // A sync failed and the records it covered are yet to be queued again
  // (cut_back_unsynced ran out of memory): the retry does that first.
  bool unsynced_lost_ = false;
  bool warned_of_descriptors_ = false;  // see warn_if_files_crowd_out_connections
  WalStats stats_;
};

}  // namespace beanstalkd::wal
