// A tube: a named queue with its ready heap (priority, id), delay heap
// (ready-at, id), buried heap (burial order), and the FIFO of connections waiting to
// reserve from it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "beanstalkd/clock.h"
#include "beanstalkd/intrusive_heap.h"
#include "beanstalkd/intrusive_list.h"
#include "beanstalkd/job.h"

namespace beanstalkd {

// Tube names: 1 to 200 bytes of these characters, not starting with '-'.
inline constexpr std::size_t kMaxTubeNameLength = 200;
bool is_valid_tube_name(std::string_view name);
bool is_tube_name_char(char c);
inline constexpr std::string_view kDefaultTubeName = "default";

// One entry of a session's watch list; linked into the tube's waiting list
// while the session waits in reserve.
struct WatchLink {
  Session* session;
  Tube* tube;
  ListLink<WatchLink> wait_node;
};
using WaiterList = IntrusiveList<WatchLink, &WatchLink::wait_node>;

struct Tube {
  explicit Tube(std::string tube_name) : name(std::move(tube_name)) {}

  std::string name;
  ReadyHeap ready;
  DelayHeap delayed;
  BuriedHeap buried;
  WaiterList waiters;

  std::uint64_t urgent_count = 0;    // ready jobs with priority < 1024
  std::uint64_t reserved_count = 0;  // jobs of this tube held by connections
  std::uint32_t using_count = 0;
  std::uint32_t watching_count = 0;

  std::uint64_t total_jobs = 0;
  std::uint64_t cmd_delete = 0;
  std::uint64_t cmd_pause_tube = 0;

  Nanos pause_duration = 0;  // 0 = not paused
  Nanos unpause_at = 0;
  HeapIndex pause_index = kNotInHeap;  // in the store's pause heap
  std::size_t list_index = 0;          // position in the store's tube list

  bool paused() const { return pause_duration > 0; }
  std::uint64_t job_count() const {
    return ready.size() + delayed.size() + buried.size() + reserved_count;
  }
  bool unreferenced() const { return using_count == 0 && watching_count == 0 && job_count() == 0; }
};

// A tube's figures at one moment: what stats-tube and the metrics endpoint
// report, each in its own units.
struct TubeSnapshot {
  std::string_view name;
  std::uint64_t jobs_urgent = 0, jobs_ready = 0, jobs_reserved = 0, jobs_delayed = 0,
                jobs_buried = 0;
  std::uint64_t total_jobs = 0;
  std::uint64_t using_count = 0, watching_count = 0, waiting_count = 0;
  std::uint64_t cmd_delete = 0, cmd_pause_tube = 0;
  bool paused = false;
  Nanos pause_duration = 0;  // the current pause's length; 0 when not paused
  Nanos pause_left = 0;      // until it ends; 0 when not paused
};

TubeSnapshot snapshot(const Tube& tube, Nanos now);

struct TubeUnpauseOrder {
  bool operator()(const Tube& a, const Tube& b) const { return a.unpause_at < b.unpause_at; }
};
struct TubePauseSlot {
  HeapIndex& operator()(Tube& t) const { return t.pause_index; }
};
using PauseHeap = IntrusiveHeap<Tube, TubeUnpauseOrder, TubePauseSlot>;

}  // namespace beanstalkd
