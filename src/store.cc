#include "beanstalkd/store.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "beanstalkd/vector_room.h"

namespace beanstalkd {

namespace {

Nanos seconds(std::uint32_t s) {
  return static_cast<Nanos>(s) * kNanosPerSecond;
}

// Activity slots kept free by every put (160 KiB at most): as many jobs as
// workers may hold at once while no put gets memory any more, each delete
// giving its slot back for the next reserve.
constexpr std::size_t kActivitiesAhead = 4096;

// The jobs of a tube that may come back to ready without a put or a kick:
// what its ready heap keeps room for.
std::size_t unburied_jobs(const Tube& tube) {
  return tube.ready.size() + tube.reserved_count + tube.delayed.size();
}

}  // namespace

Store::Store(const Clock& clock) : clock_(clock) {
  default_tube_ = find_or_make_tube(kDefaultTubeName);
}

Store::~Store() {
  // Sessions belong to connections, which detach before the store goes; what
  // is left here are jobs and tubes. Freed where they are found: a list of
  // them would allocate, and a server stopped at its memory limit has
  // nothing to give (the index only reads its slots meanwhile).
  jobs_.for_each([](Job* job) { Job::release_memory(job); });
}

// --- tubes --------------------------------------------------------------------

Tube* Store::find_tube(std::string_view name) const {
  auto it = tubes_.find(name);
  return it == tubes_.end() ? nullptr : it->second.get();
}

Tube* Store::find_or_make_tube(std::string_view name) {
  if (Tube* tube = find_tube(name)) return tube;
  // Allocates everything before the tube is listed anywhere, so that a
  // failure leaves nothing behind.
  auto tube = std::make_unique<Tube>(std::string(name));
  Tube* raw = tube.get();
  make_room(tube_list_, tube_list_.size() + 1);
  tubes_.emplace(raw->name, std::move(tube));
  raw->list_index = tube_list_.size();
  tube_list_.push_back(raw);
  return raw;
}

void Store::drop_tube_if_unreferenced(Tube* tube) {
  if (tube == default_tube_ || !tube->unreferenced()) return;
  if (tube->pause_index != kNotInHeap) pauses_.remove(tube);
  std::size_t i = tube->list_index;
  tube_list_[i] = tube_list_.back();
  tube_list_[i]->list_index = i;
  tube_list_.pop_back();
  tubes_.erase(tube->name);
}

void Store::use(Session& session, std::string_view name) {
  Tube* old = session.used;
  Tube* tube = find_or_make_tube(name);
  ++tube->using_count;
  session.used = tube;
  if (old) {
    --old->using_count;
    drop_tube_if_unreferenced(old);
  }
}

std::size_t Store::watch(Session& session, std::string_view name) {
  for (auto& link : session.watched)
    if (link->tube->name == name) return session.watched.size();
  make_room(session.watched, session.watched.size() + 1);
  auto link = std::make_unique<WatchLink>(WatchLink{&session, nullptr, {}});
  Tube* tube = find_or_make_tube(name);
  link->tube = tube;
  ++tube->watching_count;
  session.watched.push_back(std::move(link));
  return session.watched.size();
}

std::optional<std::size_t> Store::ignore(Session& session, std::string_view name) {
  auto& list = session.watched;
  auto it = std::find_if(list.begin(), list.end(),
                         [&](const auto& link) { return link->tube->name == name; });
  if (it == list.end()) return list.size();
  if (list.size() == 1) return std::nullopt;
  Tube* tube = (*it)->tube;
  *it = std::move(list.back());
  list.pop_back();
  --tube->watching_count;
  drop_tube_if_unreferenced(tube);
  return list.size();
}

bool Store::pause_tube(std::string_view name, std::uint32_t secs) {
  Tube* tube = find_tube(name);
  if (!tube) return false;
  ++tube->cmd_pause_tube;
  if (secs == 0) {
    tube->pause_duration = 0;
    tube->unpause_at = 0;
    if (tube->pause_index != kNotInHeap) pauses_.remove(tube);
    dispatch(tube);
    return true;
  }
  pauses_.make_room(pauses_.size() + 1);
  tube->pause_duration = seconds(secs);
  tube->unpause_at = clock_.now() + tube->pause_duration;
  if (tube->pause_index == kNotInHeap) {
    pauses_.push(tube);
  } else {
    pauses_.update(tube);
  }
  return true;
}

// --- sessions -----------------------------------------------------------------

void Store::attach(Session& session) {
  assert(!session.attached);
  // The watch allocates, before anything changed; the use of the tube that
  // always exists does not.
  watch(session, kDefaultTubeName);
  use(session, kDefaultTubeName);
  session.attached = true;
}

void Store::detach(Session& session) {
  if (!session.attached) return;
  if (session.waiting) stop_waiting(session);
  // Held jobs go back to ready (a disconnect is not a timeout), in the
  // order they were reserved, as from the reference. Sorting them takes
  // memory; without it they go back in any order, which the ready heaps'
  // own order makes matter only to who waits for which. Either way no job
  // needs memory to go back (make_room_for_put).
  try {
    for (Job* job : session.reserved.in_reservation_order()) {
      unlink(job);
      make_ready(job);
    }
  } catch (const std::bad_alloc&) {
  }
  while (!session.reserved.empty()) {
    Job* job = session.reserved.any();
    unlink(job);
    make_ready(job);
  }
  if (session.is_producer) --counters_.producers;
  if (session.is_worker) --counters_.workers;
  // Let go of the tubes in the reference's order, since the tubes dropped
  // take each other's places in the tube list (drop_tube_if_unreferenced):
  // the watch list loses its first entry, the last one taking its place,
  // until it is empty; then the used tube goes.
  auto& watched = session.watched;
  while (!watched.empty()) {
    Tube* tube = watched.front()->tube;
    if (watched.size() > 1) watched.front() = std::move(watched.back());
    watched.pop_back();
    --tube->watching_count;
    drop_tube_if_unreferenced(tube);
  }
  Tube* used = session.used;
  --used->using_count;
  session.used = nullptr;
  session.attached = false;
  drop_tube_if_unreferenced(used);
}

void Store::mark_producer(Session& session) {
  if (session.is_producer) return;
  session.is_producer = true;
  ++counters_.producers;
}

// --- job placement ------------------------------------------------------------

void Store::unlink(Job* job) {
  Tube* tube = job->tube;
  switch (job->state) {
    case JobState::Ready:
      tube->ready.remove(job);
      --counts_.ready;
      if (job->urgent()) {
        --counts_.urgent;
        --tube->urgent_count;
      }
      break;
    case JobState::Delayed:
      tube->delayed.remove(job);
      job_timers_.remove(job);
      --counts_.delayed;
      break;
    case JobState::Buried:
      tube->buried.remove(job);
      --counts_.buried;
      break;
    case JobState::Reserved: {
      JobActivity& activity = job->activity_to_change();
      Session* holder = activity.holder;
      holder->reserved.remove(job);
      job_timers_.remove(job);
      activity.holder = nullptr;
      --tube->reserved_count;
      --counts_.reserved;
      // A waiting holder's next DEADLINE_SOON moment depends on its jobs.
      if (holder->waiting) schedule_tick(*holder, clock_.now());
      break;
    }
  }
}

void Store::make_ready(Job* job) {
  Tube* tube = job->tube;
  job->state = JobState::Ready;
  tube->ready.push(job);
  ++counts_.ready;
  if (job->urgent()) {
    ++counts_.urgent;
    ++tube->urgent_count;
  }
  dispatch(tube);
}

void Store::make_delayed(Job* job, Nanos until) {
  job->state = JobState::Delayed;
  job->activity_to_change().deadline_at = until;
  job->tube->delayed.push(job);
  job_timers_.push(job);
  ++counts_.delayed;
}

void Store::make_buried(Job* job) {
  job->state = JobState::Buried;
  job->activity_to_change().deadline_at = static_cast<Nanos>(++bury_sequence_);
  job->tube->buried.push(job);
  ++counts_.buried;
}

void Store::make_room_for_put(Tube* tube, bool delayed) {
  jobs_.make_room_for_one();
  tube->ready.make_room(unburied_jobs(*tube) + 1);
  if (delayed) {
    tube->delayed.make_room(tube->delayed.size() + 1);
    job_timers_.make_room(job_timers_.size() + 1);
  }
  // Reserves of jobs put ready take their activity from these.
  if (!Job::make_room_for_activities(kActivitiesAhead)) throw std::bad_alloc();
}

void Store::make_room_to_hand(Session& session, Job* job) {
  // A buried job reserved by id joins the jobs that can come back to ready.
  if (job->state == JobState::Buried) job->tube->ready.make_room(unburied_jobs(*job->tube) + 1);
  job->activity_to_change();
  session.reserved.make_room_for_one();
  job_timers_.make_room(job_timers_.size() + 1);
  if (journal_) journal_->make_room_for_update(Journal::Update::CountersOnly);
}

void Store::make_room_to_kick(Tube* tube, std::size_t count) {
  tube->ready.make_room(unburied_jobs(*tube) + count);
}

void Store::hand_to(Session& session, Job* job) {
  make_room_to_hand(session, job);
  unlink(job);
  Nanos now = clock_.now();
  job->state = JobState::Reserved;
  JobActivity& activity = job->activity_to_change();
  activity.holder = &session;
  activity.deadline_at = now + job->ttr();
  ++activity.counts.reserves;
  session.reserved.add(job);
  job_timers_.push(job);
  ++job->tube->reserved_count;
  ++counts_.reserved;
  if (journal_) journal_->record_update(*job, Journal::Update::CountersOnly);
  if (session.waiting) stop_waiting(session);
  session.listener->on_reserved(*job);
}

// Serves the tube's waiters, first come first served, while it has ready
// jobs and is not paused.
//
// Without memory to hand a job over, the waiters wait on: the job stays
// ready, and the next put, release or kick into the tube tries again.
void Store::dispatch(Tube* tube) {
  try {
    while (!tube->paused() && !tube->ready.empty() && !tube->waiters.empty()) {
      Session& waiter = *tube->waiters.front()->session;
      hand_to(waiter, tube->ready.top());
    }
  } catch (const std::bad_alloc&) {
  }
}

void Store::free_job(Job* job) {
  Tube* tube = job->tube;
  jobs_.erase(job->id);
  Job::release_memory(job);
  drop_tube_if_unreferenced(tube);
}

// --- put ----------------------------------------------------------------------

Job* Store::allocate_job(std::uint32_t body_size) {
  Job* job = Job::allocate(next_id_, body_size);
  if (job) ++next_id_;
  return job;
}

void Store::discard_job(Job* job) {
  Job::release_memory(job);
}

Job* Store::put(Session& session, Job* job, std::uint32_t priority, std::uint32_t delay_seconds,
                std::uint32_t ttr_seconds) {
  Nanos now = clock_.now();
  const bool delayed = delay_seconds > 0;
  make_room_for_put(session.used, delayed);
  job->tube = session.used;
  job->priority = priority;
  job->delay_seconds = delay_seconds;
  job->ttr_seconds = std::max<std::uint32_t>(ttr_seconds, 1);
  job->created_at = now;
  job->state = delayed ? JobState::Delayed : JobState::Ready;
  if (delayed) job->activity_to_change().deadline_at = now + seconds(delay_seconds);
  // Logged before anything points to the job (the log may move it into a
  // smaller allocation) and before it can be handed to a waiting worker
  // (which logs an update).
  if (journal_) job = journal_->record_put(job);
  jobs_.insert(job);
  ++counters_.total_jobs;
  ++job->tube->total_jobs;
  if (delayed) {
    make_delayed(job, job->activity().deadline_at);
  } else {
    make_ready(job);
  }
  return job;
}

// --- reserve ------------------------------------------------------------------

Job* Store::best_ready(const Session& session) const {
  Job* best = nullptr;
  for (const auto& link : session.watched) {
    const Tube* tube = link->tube;
    if (tube->paused()) continue;
    Job* top = tube->ready.top();
    if (top && (!best || ReadyOrder{}(*top, *best))) best = top;
  }
  return best;
}

bool Store::any_ready(const Session& session) const {
  // Like the reference, a paused tube's ready jobs count here.
  return std::any_of(session.watched.begin(), session.watched.end(),
                     [](const auto& link) { return !link->tube->ready.empty(); });
}

bool Store::deadline_soon(const Session& session, Nanos now) const {
  return session.reserved.any_of(
      [&](const Job* job) { return now >= job->activity().deadline_at - kSafetyMargin; });
}

void Store::reserve(Session& session, std::optional<std::uint32_t> timeout_seconds) {
  if (!session.is_worker) {
    session.is_worker = true;
    ++counters_.workers;
  }
  Nanos now = clock_.now();
  if (deadline_soon(session, now) && !any_ready(session)) {
    session.listener->on_wait_ended(WaitEnd::DeadlineSoon);
    return;
  }
  if (Job* job = best_ready(session)) {
    hand_to(session, job);
    return;
  }
  if (timeout_seconds == 0u) {
    // Only a paused tube's ready jobs got past the check above. The
    // reference waits 0 s, and its timer pass tells DEADLINE_SOON before
    // TIMED_OUT.
    session.listener->on_wait_ended(deadline_soon(session, now) ? WaitEnd::DeadlineSoon
                                                                : WaitEnd::TimedOut);
    return;
  }
  session.wait_until = timeout_seconds ? now + seconds(*timeout_seconds) : -1;
  start_waiting(session, now);
}

void Store::start_waiting(Session& session, Nanos now) {
  session_timers_.make_room(session_timers_.size() + 1);
  session.waiting = true;
  ++counters_.waiting;
  for (auto& link : session.watched) link->tube->waiters.push_back(link.get());
  schedule_tick(session, now);
}

void Store::stop_waiting(Session& session) {
  session.waiting = false;
  --counters_.waiting;
  for (auto& link : session.watched) link->tube->waiters.remove(link.get());
  if (session.tick_index != kNotInHeap) session_timers_.remove(&session);
}

void Store::schedule_tick(Session& session, Nanos now) {
  (void)now;
  Nanos tick = session.wait_until >= 0 ? session.wait_until : kNoTimer;
  session.reserved.for_each(
      [&](const Job* job) { tick = std::min(tick, job->activity().deadline_at - kSafetyMargin); });
  session.tick_at = tick;
  if (tick == kNoTimer) {
    if (session.tick_index != kNotInHeap) session_timers_.remove(&session);
  } else if (session.tick_index == kNotInHeap) {
    session_timers_.push(&session);
  } else {
    session_timers_.update(&session);
  }
}

void Store::end_wait(Session& session, WaitEnd why) {
  stop_waiting(session);
  session.listener->on_wait_ended(why);
}

void Store::cancel_wait(Session& session) {
  if (session.waiting) end_wait(session, WaitEnd::TimedOut);
}

Job* Store::reserve_job(Session& session, std::uint64_t id) {
  Job* job = jobs_.find(id);
  if (!job || job->state == JobState::Reserved) return nullptr;
  if (!session.is_worker) {
    session.is_worker = true;
    ++counters_.workers;
  }
  hand_to(session, job);
  return job;
}

// --- job commands -------------------------------------------------------------

bool Store::copy_body(const Job& job, char* dest) const {
  if (!job.body_in_log) {
    std::memcpy(dest, job.body_with_crlf(), job.body_size);
    return true;
  }
  return journal_ && journal_->copy_body(job, dest);
}

Job* Store::held_job(const Session& session, std::uint64_t id) const {
  Job* job = jobs_.find(id);
  if (!job || job->state != JobState::Reserved || job->activity().holder != &session)
    return nullptr;
  return job;
}

bool Store::delete_job(Session& session, std::uint64_t id) {
  Job* job = jobs_.find(id);
  if (!job) return false;
  if (job->state == JobState::Reserved && job->activity().holder != &session) return false;
  if (journal_) journal_->make_room_for_delete();
  unlink(job);
  ++job->tube->cmd_delete;
  if (journal_) journal_->record_delete(*job);
  free_job(job);
  return true;
}

namespace {

// See Store::release_only_counts.
bool release_leaves_state(const Job& job, std::uint32_t priority, std::uint32_t delay_seconds) {
  return priority == job.priority && delay_seconds == 0 && job.delay_seconds == 0;
}

}  // namespace

bool Store::release_only_counts(const Session& session, std::uint64_t id, std::uint32_t priority,
                                std::uint32_t delay_seconds) const {
  const Job* job = held_job(session, id);
  return job && release_leaves_state(*job, priority, delay_seconds);
}

bool Store::release(Session& session, std::uint64_t id, std::uint32_t priority,
                    std::uint32_t delay_seconds) {
  Job* job = held_job(session, id);
  if (!job) return false;
  const Journal::Update update = release_leaves_state(*job, priority, delay_seconds)
                                     ? Journal::Update::CountersOnly
                                     : Journal::Update::State;
  if (delay_seconds > 0) job->tube->delayed.make_room(job->tube->delayed.size() + 1);
  if (journal_) journal_->make_room_for_update(update);
  unlink(job);
  job->priority = priority;
  job->delay_seconds = delay_seconds;
  ++job->activity_to_change().counts.releases;
  if (delay_seconds > 0) {
    make_delayed(job, clock_.now() + seconds(delay_seconds));
    if (journal_) journal_->record_update(*job, update);
  } else {
    job->state = JobState::Ready;
    if (journal_) journal_->record_update(*job, update);
    make_ready(job);
  }
  return true;
}

bool Store::bury(Session& session, std::uint64_t id, std::uint32_t priority) {
  Job* job = held_job(session, id);
  if (!job) return false;
  job->tube->buried.make_room(job->tube->buried.size() + 1);
  if (journal_) journal_->make_room_for_update(Journal::Update::State);
  unlink(job);
  job->priority = priority;
  ++job->activity_to_change().counts.buries;
  make_buried(job);
  if (journal_) journal_->record_update(*job, Journal::Update::State);
  return true;
}

bool Store::touch(Session& session, std::uint64_t id) {
  Job* job = held_job(session, id);
  if (!job) return false;
  job->activity_to_change().deadline_at = clock_.now() + job->ttr();
  job_timers_.update(job);
  return true;
}

std::uint32_t Store::kick(Session& session, std::uint32_t bound) {
  Tube* tube = session.used;
  std::uint32_t kicked = 0;
  // Buried jobs first, oldest first; only if none, delayed jobs, soonest first.
  const bool from_buried = !tube->buried.empty();
  if (from_buried) make_room_to_kick(tube, std::min<std::size_t>(bound, tube->buried.size()));
  while (kicked < bound) {
    Job* job = from_buried ? tube->buried.top() : tube->delayed.top();
    if (!job) break;
    if (journal_) {
      // Without room for the next record, the jobs kicked so far are the
      // answer; with none kicked, the command is refused.
      try {
        journal_->make_room_for_update(Journal::Update::State);
      } catch (const std::bad_alloc&) {
        if (kicked == 0) throw;
        break;
      }
    }
    unlink(job);
    ++job->activity_to_change().counts.kicks;
    job->state = JobState::Ready;
    if (journal_) journal_->record_update(*job, Journal::Update::State);
    make_ready(job);
    ++kicked;
  }
  return kicked;
}

bool Store::kick_job(std::uint64_t id) {
  Job* job = jobs_.find(id);
  if (!job || (job->state != JobState::Buried && job->state != JobState::Delayed)) return false;
  if (job->state == JobState::Buried) make_room_to_kick(job->tube, 1);
  if (journal_) journal_->make_room_for_update(Journal::Update::State);
  unlink(job);
  ++job->activity_to_change().counts.kicks;
  job->state = JobState::Ready;
  if (journal_) journal_->record_update(*job, Journal::Update::State);
  make_ready(job);
  return true;
}

Job* Store::peek_ready(const Session& session) const {
  return session.used->ready.top();
}
Job* Store::peek_delayed(const Session& session) const {
  return session.used->delayed.top();
}
Job* Store::peek_buried(const Session& session) const {
  return session.used->buried.top();
}

// --- recovery -----------------------------------------------------------------

void Store::adopt(Job* job) {
  jobs_.insert(job);
  job->heap_index = static_cast<HeapIndex>(adopted_.size());
  adopted_.push_back(job);
}

void Store::forget(Job* job) {
  adopted_[job->heap_index] = nullptr;
  job->heap_index = kNotInHeap;
  jobs_.erase(job->id);
  Job::release_memory(job);
}

void Store::finish_recovery(std::uint64_t next_id) {
  next_id_ = std::max(next_id_, next_id);
  const Nanos now = clock_.now();
  for (Job* job : adopted_) {
    if (!job) continue;
    job->heap_index = kNotInHeap;
    next_id_ = std::max(next_id_, job->id + 1);
    if (job->state == JobState::Buried) {
      // The buried heap orders them by their burial sequence, kept in deadline_at.
      job->tube->buried.push(job);
      ++counts_.buried;
      bury_sequence_ =
          std::max(bury_sequence_, static_cast<std::uint64_t>(job->activity().deadline_at));
    } else if (job->state == JobState::Delayed && job->activity().deadline_at > now) {
      make_delayed(job, job->activity().deadline_at);
    } else {
      make_ready(job);
    }
  }
  std::vector<Job*>().swap(adopted_);
  for (Tube* tube : tube_list_) tube->ready.make_room(unburied_jobs(*tube));
  std::vector<Tube*> all(tube_list_);
  for (Tube* tube : all) drop_tube_if_unreferenced(tube);
}

// --- time ---------------------------------------------------------------------

void Store::timeout_job(Job* job) {
  unlink(job);
  ++job->activity_to_change().counts.timeouts;
  ++counters_.job_timeouts;
  job->state = JobState::Ready;
  if (journal_) journal_->record_update(*job, Journal::Update::CountersOnly);
  make_ready(job);
}

void Store::process_timers() {
  const Nanos now = clock_.now();
  // Waiting sessions first: a waiter whose job enters its safety margin hears
  // DEADLINE_SOON before that job can time out.
  while (Session* session = session_timers_.top()) {
    if (session->tick_at > now) break;
    if (deadline_soon(*session, now)) {
      end_wait(*session, WaitEnd::DeadlineSoon);
    } else if (session->wait_until >= 0 && session->wait_until <= now) {
      end_wait(*session, WaitEnd::TimedOut);
    } else {
      schedule_tick(*session, now);  // its jobs changed since; look again later
    }
  }
  while (Job* job = job_timers_.top()) {
    if (job->activity().deadline_at > now) break;
    if (job->state == JobState::Reserved) {
      timeout_job(job);
    } else {
      unlink(job);
      make_ready(job);
    }
  }
  while (Tube* tube = pauses_.top()) {
    if (tube->unpause_at > now) break;
    pauses_.pop();
    tube->pause_duration = 0;
    tube->unpause_at = 0;
    dispatch(tube);
  }
}

void Store::give_back_room() {
  for (Tube* tube : tube_list_) {
    tube->ready.give_back_room(unburied_jobs(*tube));
    tube->delayed.give_back_room(0);
    tube->buried.give_back_room(0);
  }
  job_timers_.give_back_room(0);
  session_timers_.give_back_room(0);
  pauses_.give_back_room(0);
}

Nanos Store::next_timer() const {
  Nanos next = kNoTimer;
  if (Job* job = job_timers_.top()) next = std::min(next, job->activity().deadline_at);
  if (Tube* tube = pauses_.top()) next = std::min(next, tube->unpause_at);
  if (Session* session = session_timers_.top()) next = std::min(next, session->tick_at);
  return next;
}

}  // namespace beanstalkd
