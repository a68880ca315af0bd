// The store's view of one client connection: the tube it uses, the tubes it
// watches, the jobs it holds, and whether it waits in reserve. The server's
// connection owns a Session and implements ReserveListener to hear how a
// reserve ended.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "beanstalkd/clock.h"
#include "beanstalkd/intrusive_heap.h"
#include "beanstalkd/job.h"
#include "beanstalkd/reserved_jobs.h"
#include "beanstalkd/tube.h"

namespace beanstalkd {

enum class WaitEnd : std::uint8_t {
  TimedOut,      // reserve-with-timeout expired, or the client half-closed
  DeadlineSoon,  // a held job's TTR is within its last second
};

class ReserveListener {
 public:
  virtual ~ReserveListener() = default;
  // The session now holds `job`; may be called from inside Store::reserve
  // (a job was ready) or later from a put, release, kick or timer.
  virtual void on_reserved(Job& job) = 0;
  virtual void on_wait_ended(WaitEnd why) = 0;
};

struct Session {
  explicit Session(ReserveListener* reserve_listener) : listener(reserve_listener) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  ReserveListener* listener;
  Tube* used = nullptr;
  // In the reference's order: appended on watch, and an ignore moves the
  // last entry into the freed place.
  std::vector<std::unique_ptr<WatchLink>> watched;
  ReservedJobs reserved;

  bool waiting = false;
  Nanos wait_until = -1;  // reserve-with-timeout expiry; -1 = no limit
  // When the store must next look at this waiting session (the earlier of
  // wait_until and its soonest held job's deadline minus the safety margin).
  Nanos tick_at = 0;
  HeapIndex tick_index = kNotInHeap;

  bool is_producer = false;  // has issued a put
  bool is_worker = false;    // has issued a reserve
  bool attached = false;
};

struct SessionTickOrder {
  bool operator()(const Session& a, const Session& b) const { return a.tick_at < b.tick_at; }
};
struct SessionTickSlot {
  HeapIndex& operator()(Session& s) const { return s.tick_index; }
};
using SessionTimerHeap = IntrusiveHeap<Session, SessionTickOrder, SessionTickSlot>;

}  // namespace beanstalkd
