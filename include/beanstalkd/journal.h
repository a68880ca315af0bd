// What the store tells a write-ahead log. The store calls these after it has
// applied a change in memory; the log buffers a record and writes it at the
// end of the loop turn. The store knows nothing of files.
//
// Recording must not fail once the change is applied, or memory and log
// would disagree: the store makes the log's room first (make_room_for_*),
// as it makes its own.
#pragma once

#include <cstdint>

#include "beanstalkd/job.h"

namespace beanstalkd {

class Journal {
 public:
  virtual ~Journal() = default;
  // A new job, body included, before anything in the store points to it.
  // Returns the job to keep: `job`, or a smaller copy that leaves the body
  // in the log (Job::without_body), `job` then being freed. Throws
  // std::bad_alloc, having recorded nothing, when the log has no memory for
  // the record.
  virtual Job* record_put(Job* job) = 0;
  // Why a job's record is updated: a change a restart must restore
  // (release, bury, kick), or one it need not, where only counters would
  // be lost (a reserve: a reserved job comes back ready anyway; a TTR
  // timeout, which makes it ready again; a release that keeps the priority
  // and delays nothing).
  enum class Update : std::uint8_t { State, CountersOnly };
  // The job's state, priority, delay or counters changed.
  virtual void record_update(Job& job, Update update) = 0;
  // The job is gone; called before its memory is released.
  virtual void record_delete(Job& job) = 0;
  // Room for the record of an update (of the kind record_update will be
  // told) or of a delete, made before the store applies the change so that
  // recording it afterwards allocates nothing. Throws std::bad_alloc,
  // having changed nothing, when there is none. A put needs no such call:
  // record_put runs before anything points to the job, and throws, having
  // changed nothing, when it finds no room.
  virtual void make_room_for_update(Update update) = 0;
  virtual void make_room_for_delete() = 0;
  // For a job whose body the log keeps (job.body_in_log): copies its
  // body_size bytes to `dest`. False, having logged why, if they cannot be
  // read back intact.
  virtual bool copy_body(const Job& job, char* dest) = 0;
};

}  // namespace beanstalkd
