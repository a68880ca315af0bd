// The job store: every job, tube and reservation, and the state machine
// between them. It never sees bytes or sockets: the server turns commands
// into calls here and replies from the results. Every operation is O(log n)
// in the jobs of one tube, or O(w) in one connection's watch list; timers
// come from heaps keyed by time, never from a scan of all tubes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "beanstalkd/clock.h"
#include "beanstalkd/job.h"
#include "beanstalkd/job_index.h"
#include "beanstalkd/journal.h"
#include "beanstalkd/session.h"
#include "beanstalkd/tube.h"

namespace beanstalkd {

// The last second of a TTR is a safety margin (DEADLINE_SOON).
inline constexpr Nanos kSafetyMargin = kNanosPerSecond;
inline constexpr Nanos kNoTimer = INT64_MAX;

struct JobCounts {
  std::uint64_t urgent = 0;  // ready with priority < 1024
  std::uint64_t ready = 0;
  std::uint64_t reserved = 0;
  std::uint64_t delayed = 0;
  std::uint64_t buried = 0;
};

struct StoreCounters {
  std::uint64_t job_timeouts = 0;
  std::uint64_t total_jobs = 0;
  std::uint64_t producers = 0;  // attached sessions that have put
  std::uint64_t workers = 0;    // attached sessions that have reserved
  std::uint64_t waiting = 0;    // sessions waiting in reserve
};

class Store {
 public:
  explicit Store(const Clock& clock);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const Clock& clock() const { return clock_; }
  // Every later change is reported to `journal` (nullptr: none).
  void set_journal(Journal* journal) { journal_ = journal; }

  // --- recovery -------------------------------------------------------------
  // While replaying a log into an empty store: jobs are adopted into the
  // index with their fields set but placed nowhere; finish_recovery() puts
  // each where its state says (a reserved job comes back ready; buried jobs
  // in ascending burial order, kept in deadline_at) and drops empty tubes.
  Tube* recovery_tube(std::string_view name) { return find_or_make_tube(name); }
  void adopt(Job* job);
  void forget(Job* job);
  void finish_recovery(std::uint64_t next_id);
  template <typename Fn>
  void for_each_job(Fn&& fn) const {
    jobs_.for_each(fn);
  }

  // --- sessions -----------------------------------------------------------
  // A new session uses and watches "default".
  void attach(Session& session);
  // Returns held jobs to ready (no timeout counted), stops waiting, and lets
  // go of used and watched tubes.
  void detach(Session& session);

  // --- put ----------------------------------------------------------------
  // Takes the next id, like the reference, even if the put later fails.
  // Returns nullptr when memory is short.
  Job* allocate_job(std::uint32_t body_size);
  void discard_job(Job* job);  // a job allocated but never put
  // Enqueues a filled job into the session's used tube. Returns the job as
  // the store keeps it: the log may have replaced `job` with a copy that
  // leaves the body in the log (Journal::record_put).
  Job* put(Session& session, Job* job, std::uint32_t priority, std::uint32_t delay_seconds,
           std::uint32_t ttr_seconds);
  void mark_producer(Session& session);

  // --- reserve ------------------------------------------------------------
  // The outcome reaches session.listener, at once or later; afterwards
  // session.waiting says whether it is still waiting. No timeout waits
  // forever; 0 answers at once.
  void reserve(Session& session, std::optional<std::uint32_t> timeout_seconds);
  // Ends a wait with TIMED_OUT (the client half-closed).
  void cancel_wait(Session& session);
  // Reserves a ready, delayed or buried job by id, from any tube.
  Job* reserve_job(Session& session, std::uint64_t id);

  // --- job commands (false = NOT_FOUND) -------------------------------------
  bool delete_job(Session& session, std::uint64_t id);
  bool release(Session& session, std::uint64_t id, std::uint32_t priority,
               std::uint32_t delay_seconds);
  // Whether that release would change nothing a restart restores: the
  // session holds the job, its priority stays, and neither this release nor
  // the last put or release delays it. Such a release only counts
  // (Journal::Update::CountersOnly), so even a full log takes it.
  bool release_only_counts(const Session& session, std::uint64_t id, std::uint32_t priority,
                           std::uint32_t delay_seconds) const;
  bool bury(Session& session, std::uint64_t id, std::uint32_t priority);
  bool touch(Session& session, std::uint64_t id);
  std::uint32_t kick(Session& session, std::uint32_t bound);
  bool kick_job(std::uint64_t id);

  Job* find_job(std::uint64_t id) const { return jobs_.find(id); }
  // A job's body_size bytes into `dest`: from memory, or read back from the
  // log for a job whose body stays there. False if that read failed.
  bool copy_body(const Job& job, char* dest) const;
  void prefetch_job_slot(std::uint64_t id) const { jobs_.prefetch(id); }
  Job* peek_ready(const Session& session) const;
  Job* peek_delayed(const Session& session) const;
  Job* peek_buried(const Session& session) const;

  // --- tubes --------------------------------------------------------------
  // Precondition for names: is_valid_tube_name().
  void use(Session& session, std::string_view name);
  std::size_t watch(Session& session, std::string_view name);
  // nullopt: it is the last watched tube (NOT_IGNORED).
  std::optional<std::size_t> ignore(Session& session, std::string_view name);
  bool pause_tube(std::string_view name, std::uint32_t seconds);
  Tube* find_tube(std::string_view name) const;
  // In the reference's order: creation order, a removed tube's place taken
  // by the last one.
  const std::vector<Tube*>& tubes() const { return tube_list_; }

  // --- time ---------------------------------------------------------------
  // Moves delayed jobs to ready, times out reservations, ends pauses and
  // ends waits whose time has come.
  void process_timers();
  // The earliest moment process_timers() has work, or kNoTimer.
  Nanos next_timer() const;

  // --- memory ---------------------------------------------------------------
  // Gives back the heaps' spare room after a drain (heaps never shrink on
  // their own, so that removing a job never allocates), keeping the room a
  // put made for the jobs still there. Never throws.
  void give_back_room();

  // --- figures ------------------------------------------------------------
  const JobCounts& job_counts() const { return counts_; }
  const StoreCounters& counters() const { return counters_; }
  std::uint64_t job_count() const { return jobs_.size(); }
  std::uint64_t last_job_id() const { return next_id_ - 1; }

 private:
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  Tube* find_or_make_tube(std::string_view name);
  void drop_tube_if_unreferenced(Tube* tube);

  // Takes `job` out of whatever structure its state puts it in.
  void unlink(Job* job);
  void make_ready(Job* job);
  void make_delayed(Job* job, Nanos until);
  void make_buried(Job* job);
  // Running out of memory must not lose a job or stop a drain. So every
  // operation makes the room it needs before it changes anything, and
  // throws std::bad_alloc with nothing changed when there is none: the
  // server refuses that command (OUT_OF_MEMORY) and goes on. A put also
  // makes room in its tube's ready heap for every job of the tube that is
  // not buried, so that releases, timeouts, disconnects and delays that end
  // never need memory to put a job back, and keeps activity slots ahead, so
  // that reserves (and deletes) work on when puts no longer do.
  void make_room_for_put(Tube* tube, bool delayed);
  void make_room_to_hand(Session& session, Job* job);
  void make_room_to_kick(Tube* tube, std::size_t count);
  void hand_to(Session& session, Job* job);
  void dispatch(Tube* tube);
  Job* best_ready(const Session& session) const;
  Job* held_job(const Session& session, std::uint64_t id) const;

  bool deadline_soon(const Session& session, Nanos now) const;
  bool any_ready(const Session& session) const;
  void start_waiting(Session& session, Nanos now);
  void stop_waiting(Session& session);
  void schedule_tick(Session& session, Nanos now);
  void end_wait(Session& session, WaitEnd why);

  void timeout_job(Job* job);
  void free_job(Job* job);

  const Clock& clock_;
  Journal* journal_ = nullptr;
  std::uint64_t next_id_ = 1;
  std::uint64_t bury_sequence_ = 0;
  JobIndex jobs_;
  // While recovering: adopted jobs in the order they came (nullptr once
  // forgotten; a job's heap_index is its position here until it is placed).
  // finish_recovery() walks this rather than the index, whose hash order
  // would make every job a cache miss.
  std::vector<Job*> adopted_;
  std::unordered_map<std::string, std::unique_ptr<Tube>, NameHash, std::equal_to<>> tubes_;
  std::vector<Tube*> tube_list_;
  Tube* default_tube_ = nullptr;

  JobTimerHeap job_timers_;  // delayed jobs (until ready) and reserved (until TTR)
  PauseHeap pauses_;
  SessionTimerHeap session_timers_;

  JobCounts counts_;
  StoreCounters counters_;
};

}  // namespace beanstalkd
