// A job: fixed fields followed, in the same allocation, by the body and its
// trailing CRLF, so the body is copied once from the socket into place and
// written back out from there. With a write-ahead log, a job may instead
// leave its body in the log (body_in_log): the job is then its header alone,
// in a slot of a slab (no malloc chunk overhead), holding the file offset of
// its full record, and the log reads the body back when a client asks for it.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "beanstalkd/clock.h"
#include "beanstalkd/intrusive_heap.h"
#include "beanstalkd/job_counters.h"

namespace beanstalkd {

struct Tube;
struct Session;

enum class JobState : std::uint8_t { Ready, Reserved, Delayed, Buried };

const char* job_state_name(JobState state);

// Ready jobs with a priority below this count as "urgent" in stats.
inline constexpr std::uint32_t kUrgentPriority = 1024;

// What a job carries only once something has happened to it beyond being
// put ready: its holder, its deadline, its place in the store's timer heap
// and the counts of what was done to it. A queue's backlog is mostly jobs
// put ready and not yet reserved, which need none of it, so it lives in a
// slot of its own, allocated the first time a job is reserved, delayed or
// buried (or recovered with counts), and the job itself stays small enough
// for a 100-byte body to share a 176-byte malloc chunk with it.
struct JobActivity {
  Session* holder = nullptr;  // while reserved
  // While delayed: when the job becomes ready. While reserved: when its TTR
  // runs out. While buried: its burial sequence number, which orders the
  // buried heap and is kept in the log so the order survives a restart.
  Nanos deadline_at = 0;
  HeapIndex timer_index = kNotInHeap;  // in the store's deadline heap
  JobCounters counts;
};

struct Job {
  std::uint64_t id;
  Tube* tube;
  Nanos created_at;
  // Ready, delayed or buried: its position in its tube's heap of that
  // state. Reserved: its position in the holder's ReservedJobs.
  HeapIndex heap_index = kNotInHeap;
  std::uint32_t priority;
  std::uint32_t delay_seconds;  // as given by the last put or release
  std::uint32_t ttr_seconds;    // at least 1
  std::uint32_t body_size;      // without the trailing CRLF
  // Body in memory: output buffers still sending it (pins()); the memory
  // outlives a delete until they are done. Body in the log: where the job's
  // full record starts in file wal_file (log_offset()); such a body is
  // copied into replies, never pinned.
  std::uint32_t pins_or_log_offset = 0;
  std::uint32_t wal_file = 0;  // log file holding the job's full record; 0 = none
  JobState state = JobState::Ready;
  bool removed = false;  // gone from the store; freed when unpinned
  // The body is not in memory but in the full record at log_offset() of
  // log file wal_file (see Journal::copy_body).
  bool body_in_log = false;

  // Log files are at most this large (-s), so an offset in one fits the
  // header's 32 bits.
  static constexpr std::uint64_t kMaxLogOffset = UINT32_MAX;

  // body_size bytes followed by "\r\n" once the put completed; only when
  // !body_in_log.
  char* body_with_crlf() { return reinterpret_cast<char*>(this + 1); }
  const char* body_with_crlf() const { return reinterpret_cast<const char*>(this + 1); }
  std::string_view body() const {
    assert(!body_in_log);
    return {body_with_crlf(), body_size};
  }
  // Only when body_in_log: where the full record starts in file wal_file.
  std::uint64_t log_offset() const {
    assert(body_in_log);
    return pins_or_log_offset;
  }
  void set_log_offset(std::uint64_t offset) {
    assert(body_in_log && offset <= kMaxLogOffset);
    pins_or_log_offset = static_cast<std::uint32_t>(offset);
  }
  // The job's activity; all zero for a job that has none yet.
  const JobActivity& activity() const { return activity_ ? *activity_ : kNoActivity; }
  // The same, to change: allocated on first use. Throws std::bad_alloc when
  // memory is short, as the containers around it do.
  JobActivity& activity_to_change() { return activity_ ? *activity_ : start_activity(); }
  bool has_activity() const { return activity_ != nullptr; }
  // Makes sure the next `count` activities can be allocated without asking
  // the system for memory. False if it has none to give.
  static bool make_room_for_activities(std::size_t count);

  Nanos ttr() const { return static_cast<Nanos>(ttr_seconds) * kNanosPerSecond; }
  bool urgent() const { return priority < kUrgentPriority; }

  // One allocation of header plus body_size + 2 bytes.
  static Job* allocate(std::uint64_t id, std::uint32_t body_size);
  // A job whose body stays in the log: the header alone.
  static Job* allocate_body_in_log(std::uint64_t id, std::uint32_t body_size);
  // The same job in a header-only allocation, its body left in the full
  // record at `record_offset` of log file job->wal_file; `job` is freed. Only
  // for a job nothing points to yet. Returns `job` unchanged if the smaller
  // allocation fails.
  static Job* without_body(Job* job, std::uint64_t record_offset);
  // Frees the job, or defers it until the last pin is dropped.
  static void release_memory(Job* job);
  std::uint32_t pins() const { return body_in_log ? 0 : pins_or_log_offset; }
  void pin() {
    assert(!body_in_log);
    ++pins_or_log_offset;
  }
  void unpin();

 private:
  static const JobActivity kNoActivity;
  JobActivity& start_activity();

  JobActivity* activity_ = nullptr;  // none until something happens to the job
};

// The header's size decides the job's malloc chunk: with a 100-byte body,
// 64 + 102 bytes fit a 176-byte chunk (the 96-byte header that held the
// activity needed 208). Growing the header costs every job in memory.
static_assert(sizeof(Job) <= 64, "Job header grew");

struct ReadyOrder {
  bool operator()(const Job& a, const Job& b) const {
    return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
  }
};

struct DeadlineOrder {
  bool operator()(const Job& a, const Job& b) const {
    const Nanos a_at = a.activity().deadline_at;
    const Nanos b_at = b.activity().deadline_at;
    return a_at != b_at ? a_at < b_at : a.id < b.id;
  }
};

struct JobHeapSlot {
  HeapIndex& operator()(Job& j) const { return j.heap_index; }
};
struct JobTimerSlot {
  HeapIndex& operator()(Job& j) const { return j.activity_to_change().timer_index; }
};

using ReadyHeap = IntrusiveHeap<Job, ReadyOrder, JobHeapSlot>;
using DelayHeap = IntrusiveHeap<Job, DeadlineOrder, JobHeapSlot>;
using JobTimerHeap = IntrusiveHeap<Job, DeadlineOrder, JobTimerSlot>;
// Buried jobs come out in burial order: deadline_at holds the sequence.
using BuriedHeap = IntrusiveHeap<Job, DeadlineOrder, JobHeapSlot>;

}  // namespace beanstalkd
