// The job store's state machine, driven by a ManualClock and sessions whose
// listener records every reserve outcome. Behaviour is checked against
// /work/shared/reference/compat-notes.md ("Scheduling", "Other commands").
#include "beanstalkd/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "beanstalkd/clock.h"
#include "beanstalkd/job.h"
#include "beanstalkd/session.h"
#include "beanstalkd/tube.h"

namespace store_test {

using beanstalkd::Job;
using beanstalkd::JobCounts;
using beanstalkd::JobState;
using beanstalkd::kNanosPerSecond;
using beanstalkd::kNoTimer;
using beanstalkd::ManualClock;
using beanstalkd::Nanos;
using beanstalkd::ReserveListener;
using beanstalkd::Session;
using beanstalkd::Tube;
using beanstalkd::WaitEnd;

constexpr Nanos kSecond = kNanosPerSecond;

// One reserve outcome as the connection would hear it.
struct Outcome {
  enum Kind { Reserved, TimedOut, DeadlineSoon } kind;
  std::uint64_t id = 0;  // for Reserved

  friend bool operator==(const Outcome& a, const Outcome& b) {
    return a.kind == b.kind && a.id == b.id;
  }
  friend std::ostream& operator<<(std::ostream& os, const Outcome& o) {
    switch (o.kind) {
      case Reserved:
        return os << "RESERVED " << o.id;
      case TimedOut:
        return os << "TIMED_OUT";
      case DeadlineSoon:
        return os << "DEADLINE_SOON";
    }
    return os << "?";
  }
};

Outcome reserved(std::uint64_t id) {
  return {Outcome::Reserved, id};
}
const Outcome kTimedOut{Outcome::TimedOut, 0};
const Outcome kDeadlineSoon{Outcome::DeadlineSoon, 0};

class RecordingListener final : public ReserveListener {
 public:
  void on_reserved(Job& job) override {
    EXPECT_EQ(job.state, JobState::Reserved);
    outcomes.push_back(reserved(job.id));
  }
  void on_wait_ended(WaitEnd why) override {
    outcomes.push_back(why == WaitEnd::TimedOut ? kTimedOut : kDeadlineSoon);
  }
  // Returns what was heard since the last call.
  std::vector<Outcome> take() {
    std::vector<Outcome> out;
    out.swap(outcomes);
    return out;
  }
  std::vector<Outcome> outcomes;
};

// A fake connection: a listener and its session.
struct Client {
  RecordingListener listener;
  Session session{&listener};
  std::vector<Outcome> heard() { return listener.take(); }
};

using Outcomes = std::vector<Outcome>;

// The fixture is named Store so that test names read "Store.*".
class Store : public ::testing::Test {
 protected:
  ~Store() override {
    for (auto& c : clients_) detach(*c);
  }

  void detach(Client& c) { store.detach(c.session); }

  Client& connect() {
    clients_.push_back(std::make_unique<Client>());
    Client& c = *clients_.back();
    store.attach(c.session);
    return c;
  }

  std::uint64_t put(Client& c, std::uint32_t pri = 100, std::uint32_t delay = 0,
                    std::uint32_t ttr = 60, std::string_view body = "hello") {
    Job* job = store.allocate_job(static_cast<std::uint32_t>(body.size()));
    EXPECT_NE(job, nullptr);
    if (!job) return 0;
    std::memcpy(job->body_with_crlf(), body.data(), body.size());
    std::memcpy(job->body_with_crlf() + body.size(), "\r\n", 2);
    store.mark_producer(c.session);
    return store.put(c.session, job, pri, delay, ttr)->id;
  }

  // Reserves without a timeout and returns what was heard at once.
  Outcomes reserve(Client& c, std::optional<std::uint32_t> timeout = std::nullopt) {
    store.reserve(c.session, timeout);
    return c.heard();
  }

  // `c` holds a job in its last second and watches a paused tube whose only
  // job is ready; returns the held job's id.
  std::uint64_t hold_into_last_second_beside_a_paused_ready_job(Client& c) {
    Client& producer = connect();
    const std::uint64_t held = put(c, 100, 0, 5);
    EXPECT_EQ(reserve(c), Outcomes{reserved(held)});
    store.use(producer.session, "paused");
    put(producer);
    EXPECT_TRUE(store.pause_tube("paused", 100));
    store.watch(c.session, "paused");
    clock.advance(4 * kSecond + kSecond / 2);
    return held;
  }

  void advance(Nanos by) {
    clock.advance(by);
    store.process_timers();
  }

  JobState state_of(std::uint64_t id) {
    Job* job = store.find_job(id);
    EXPECT_NE(job, nullptr) << "job " << id;
    return job ? job->state : JobState::Ready;
  }

  void expect_counts(std::uint64_t urgent, std::uint64_t ready, std::uint64_t reserved_jobs,
                     std::uint64_t delayed, std::uint64_t buried) {
    const JobCounts& c = store.job_counts();
    EXPECT_EQ(c.urgent, urgent) << "urgent";
    EXPECT_EQ(c.ready, ready) << "ready";
    EXPECT_EQ(c.reserved, reserved_jobs) << "reserved";
    EXPECT_EQ(c.delayed, delayed) << "delayed";
    EXPECT_EQ(c.buried, buried) << "buried";
    check_invariants();
  }

  // The global counts agree with what the tubes and sessions hold.
  void check_invariants() {
    JobCounts sum;
    std::uint64_t jobs = 0;
    for (Tube* tube : store.tubes()) {
      std::uint64_t urgent = 0;
      for (std::size_t i = 0; i < tube->ready.size(); ++i) {
        Job* j = tube->ready.at(i);
        EXPECT_EQ(j->state, JobState::Ready);
        EXPECT_EQ(j->tube, tube);
        if (j->urgent()) ++urgent;
      }
      EXPECT_EQ(tube->urgent_count, urgent) << "tube " << tube->name;
      for (std::size_t i = 0; i < tube->delayed.size(); ++i)
        EXPECT_EQ(tube->delayed.at(i)->state, JobState::Delayed);
      for (std::size_t i = 0; i < tube->buried.size(); ++i)
        EXPECT_EQ(tube->buried.at(i)->state, JobState::Buried);
      sum.urgent += urgent;
      sum.ready += tube->ready.size();
      sum.delayed += tube->delayed.size();
      sum.buried += tube->buried.size();
      sum.reserved += tube->reserved_count;
      jobs += tube->job_count();
      EXPECT_EQ(store.find_tube(tube->name), tube);
    }
    std::uint64_t held = 0;
    for (auto& c : clients_) {
      c->session.reserved.for_each([&](const Job* j) {
        EXPECT_EQ(j->state, JobState::Reserved);
        EXPECT_EQ(j->activity().holder, &c->session);
        ++held;
      });
    }
    const JobCounts& c = store.job_counts();
    EXPECT_EQ(c.urgent, sum.urgent);
    EXPECT_EQ(c.ready, sum.ready);
    EXPECT_EQ(c.reserved, sum.reserved);
    EXPECT_EQ(c.delayed, sum.delayed);
    EXPECT_EQ(c.buried, sum.buried);
    EXPECT_EQ(held, sum.reserved);
    EXPECT_EQ(store.job_count(), jobs);
  }

  std::vector<std::string> tube_names() const {
    std::vector<std::string> names;
    for (Tube* t : store.tubes()) names.push_back(t->name);
    return names;
  }

  std::vector<std::string> watched_names(const Client& c) const {
    std::vector<std::string> names;
    for (const auto& link : c.session.watched) names.push_back(link->tube->name);
    return names;
  }

  ManualClock clock;
  beanstalkd::Store store{clock};

 private:
  std::vector<std::unique_ptr<Client>> clients_;
};

// ---------------------------------------------------------------------------
// put / reserve / delete

TEST_F(Store, NewSessionUsesAndWatchesDefault) {
  Client& c = connect();
  ASSERT_NE(c.session.used, nullptr);
  EXPECT_EQ(c.session.used->name, "default");
  EXPECT_EQ(watched_names(c), std::vector<std::string>{"default"});
  EXPECT_EQ(tube_names(), std::vector<std::string>{"default"});
}

TEST_F(Store, PutThenReserveHandsOverTheJob) {
  Client& c = connect();
  std::uint64_t id = put(c, 5, 0, 30, "body");
  EXPECT_EQ(id, 1u);
  EXPECT_EQ(state_of(id), JobState::Ready);
  expect_counts(1, 1, 0, 0, 0);
  // Nothing happened to it yet, so it carries no activity (JobActivity).
  EXPECT_FALSE(store.find_job(id)->has_activity());

  EXPECT_EQ(reserve(c), Outcomes{reserved(id)});
  EXPECT_FALSE(c.session.waiting);
  Job* job = store.find_job(id);
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->state, JobState::Reserved);
  EXPECT_EQ(job->activity().holder, &c.session);
  EXPECT_EQ(job->activity().counts.reserves, 1u);
  EXPECT_EQ(job->body(), "body");
  EXPECT_EQ(std::string_view(job->body_with_crlf(), 6), "body\r\n");
  EXPECT_EQ(job->activity().deadline_at, clock.now() + 30 * kSecond);
  expect_counts(0, 0, 1, 0, 0);

  EXPECT_TRUE(store.delete_job(c.session, id));
  EXPECT_EQ(store.find_job(id), nullptr);
  EXPECT_EQ(store.job_count(), 0u);
  expect_counts(0, 0, 0, 0, 0);
}

TEST_F(Store, PutRecordsFieldsAndCounts) {
  Client& c = connect();
  std::uint64_t id = put(c, 2000, 0, 7);
  Job* job = store.find_job(id);
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->priority, 2000u);
  EXPECT_EQ(job->ttr_seconds, 7u);
  EXPECT_EQ(job->delay_seconds, 0u);
  EXPECT_EQ(job->created_at, clock.now());
  EXPECT_EQ(job->tube, c.session.used);
  EXPECT_FALSE(job->urgent());
  EXPECT_EQ(store.counters().total_jobs, 1u);
  EXPECT_EQ(c.session.used->total_jobs, 1u);
  expect_counts(0, 1, 0, 0, 0);
}

TEST_F(Store, UrgentMeansPriorityBelow1024) {
  Client& c = connect();
  put(c, 1023);
  put(c, 1024);
  put(c, 0);
  expect_counts(2, 3, 0, 0, 0);
}

TEST_F(Store, TtrZeroIsRaisedToOneSecond) {
  Client& c = connect();
  std::uint64_t id = put(c, 0, 0, 0);
  EXPECT_EQ(store.find_job(id)->ttr_seconds, 1u);
  EXPECT_EQ(store.find_job(id)->ttr(), kSecond);
}

TEST_F(Store, PutGoesIntoTheUsedTube) {
  Client& c = connect();
  store.use(c.session, "work");
  std::uint64_t id = put(c);
  EXPECT_EQ(store.find_job(id)->tube->name, "work");
  EXPECT_EQ(store.find_tube("work")->ready.size(), 1u);
  EXPECT_EQ(store.find_tube("default")->ready.size(), 0u);
}

TEST_F(Store, ReserveOnlyTakesFromWatchedTubes) {
  Client& producer = connect();
  Client& worker = connect();
  store.use(producer.session, "other");
  put(producer);
  EXPECT_EQ(reserve(worker, 0u), Outcomes{kTimedOut});
  store.watch(worker.session, "other");
  EXPECT_EQ(reserve(worker, 0u), Outcomes{reserved(1)});
}

TEST_F(Store, DeleteOfUnknownIdIsNotFound) {
  Client& c = connect();
  EXPECT_FALSE(store.delete_job(c.session, 1));
  put(c);
  EXPECT_FALSE(store.delete_job(c.session, 2));
  EXPECT_TRUE(store.delete_job(c.session, 1));
  EXPECT_FALSE(store.delete_job(c.session, 1));
}

TEST_F(Store, DeleteWorksOnReadyDelayedAndBuriedJobsFromAnySession) {
  Client& a = connect();
  Client& b = connect();
  std::uint64_t ready = put(a);
  std::uint64_t delayed = put(a, 100, 10);
  std::uint64_t buried = put(a);
  // Make `buried` the best ready job to reserve and bury it.
  ASSERT_EQ(reserve(a), Outcomes{reserved(ready)});
  ASSERT_TRUE(store.release(a.session, ready, 200, 0));
  ASSERT_EQ(reserve(a), Outcomes{reserved(buried)});
  ASSERT_TRUE(store.bury(a.session, buried, 100));
  expect_counts(1, 1, 0, 1, 1);

  EXPECT_TRUE(store.delete_job(b.session, ready));
  EXPECT_TRUE(store.delete_job(b.session, delayed));
  EXPECT_TRUE(store.delete_job(b.session, buried));
  expect_counts(0, 0, 0, 0, 0);
  EXPECT_EQ(store.find_tube("default")->cmd_delete, 3u);
  EXPECT_EQ(store.next_timer(), kNoTimer);  // the delayed job's timer went too
}

TEST_F(Store, DeleteOfReservedJobByItsHolderSucceeds) {
  Client& a = connect();
  std::uint64_t id = put(a);
  reserve(a);
  EXPECT_TRUE(store.delete_job(a.session, id));
  EXPECT_TRUE(a.session.reserved.empty());
  EXPECT_EQ(store.next_timer(), kNoTimer);
  expect_counts(0, 0, 0, 0, 0);
}

TEST_F(Store, ADeletedJobStillBeingSentKeepsItsBodyUntilUnpinned) {
  Client& c = connect();
  std::uint64_t id = put(c, 100, 0, 60, "payload");
  Job* job = store.find_job(id);
  ASSERT_NE(job, nullptr);
  job->pin();  // an output buffer is writing the body
  EXPECT_TRUE(store.delete_job(c.session, id));
  EXPECT_EQ(store.find_job(id), nullptr);
  EXPECT_TRUE(job->removed);
  EXPECT_EQ(job->body(), "payload");  // ASan: still valid memory
  job->unpin();                       // frees it now
  expect_counts(0, 0, 0, 0, 0);
}

TEST_F(Store, DeleteOfReservedJobFromAnotherSessionIsNotFound) {
  Client& a = connect();
  Client& b = connect();
  std::uint64_t id = put(a);
  ASSERT_EQ(reserve(a), Outcomes{reserved(id)});
  EXPECT_FALSE(store.delete_job(b.session, id));
  EXPECT_EQ(state_of(id), JobState::Reserved);
  EXPECT_EQ(store.find_tube("default")->cmd_delete, 0u);
  expect_counts(0, 0, 1, 0, 0);
}

// ---------------------------------------------------------------------------
// Ordering

TEST_F(Store, ReserveTakesLowestPriorityFirst) {
  Client& c = connect();
  std::uint64_t low = put(c, 50);
  std::uint64_t high = put(c, 10);
  std::uint64_t mid = put(c, 20);
  EXPECT_EQ(reserve(c), Outcomes{reserved(high)});
  EXPECT_EQ(reserve(c), Outcomes{reserved(mid)});
  EXPECT_EQ(reserve(c), Outcomes{reserved(low)});
}

TEST_F(Store, EqualPrioritiesComeOutInIdOrder) {
  Client& c = connect();
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(put(c, 7));
  for (std::uint64_t id : ids) EXPECT_EQ(reserve(c), Outcomes{reserved(id)});
}

TEST_F(Store, PriorityZeroAndMaximumAreOrderedCorrectly) {
  Client& c = connect();
  std::uint64_t max = put(c, UINT32_MAX);
  std::uint64_t zero = put(c, 0);
  EXPECT_EQ(reserve(c), Outcomes{reserved(zero)});
  EXPECT_EQ(reserve(c), Outcomes{reserved(max)});
}

TEST_F(Store, ReserveTakesTheBestJobAcrossAllWatchedTubes) {
  Client& p = connect();
  Client& w = connect();
  store.use(p.session, "a");
  std::uint64_t a1 = put(p, 5);
  store.use(p.session, "b");
  std::uint64_t b1 = put(p, 3);
  std::uint64_t b2 = put(p, 5);
  store.watch(w.session, "a");
  store.watch(w.session, "b");
  EXPECT_EQ(reserve(w), Outcomes{reserved(b1)});
  EXPECT_EQ(reserve(w), Outcomes{reserved(a1)});  // same priority: lower id wins
  EXPECT_EQ(reserve(w), Outcomes{reserved(b2)});
}

TEST_F(Store, ReleasedJobKeepsItsIdAheadOfNewerJobs) {
  Client& c = connect();
  std::uint64_t first = put(c, 10);
  ASSERT_EQ(reserve(c), Outcomes{reserved(first)});
  std::uint64_t second = put(c, 10);
  std::uint64_t third = put(c, 10);
  ASSERT_TRUE(store.release(c.session, first, 10, 0));
  EXPECT_EQ(state_of(first), JobState::Ready);
  EXPECT_EQ(store.find_job(first)->activity().counts.releases, 1u);
  EXPECT_EQ(reserve(c), Outcomes{reserved(first)});
  EXPECT_EQ(reserve(c), Outcomes{reserved(second)});
  EXPECT_EQ(reserve(c), Outcomes{reserved(third)});
}

TEST_F(Store, ReleaseWithANewPriorityReordersTheJob) {
  Client& c = connect();
  std::uint64_t first = put(c, 10);
  std::uint64_t second = put(c, 20);
  ASSERT_EQ(reserve(c), Outcomes{reserved(first)});
  ASSERT_TRUE(store.release(c.session, first, 30, 0));
  EXPECT_EQ(store.find_job(first)->priority, 30u);
  EXPECT_EQ(reserve(c), Outcomes{reserved(second)});
  EXPECT_EQ(reserve(c), Outcomes{reserved(first)});
}

TEST_F(Store, ReleaseWithDelayMakesTheJobDelayed) {
  Client& c = connect();
  std::uint64_t id = put(c);
  reserve(c);
  Nanos t0 = clock.now();
  ASSERT_TRUE(store.release(c.session, id, 100, 4));
  EXPECT_EQ(state_of(id), JobState::Delayed);
  EXPECT_EQ(store.find_job(id)->delay_seconds, 4u);
  EXPECT_EQ(store.next_timer(), t0 + 4 * kSecond);
  expect_counts(0, 0, 0, 1, 0);
  advance(4 * kSecond);
  EXPECT_EQ(state_of(id), JobState::Ready);
  expect_counts(1, 1, 0, 0, 0);
}

// ---------------------------------------------------------------------------
// Delays

TEST_F(Store, DelayedJobBecomesReadyExactlyWhenItsTimeComes) {
  Client& c = connect();
  Nanos t0 = clock.now();
  std::uint64_t id = put(c, 100, 5);
  EXPECT_EQ(state_of(id), JobState::Delayed);
  EXPECT_EQ(store.find_job(id)->activity().deadline_at, t0 + 5 * kSecond);
  EXPECT_EQ(store.next_timer(), t0 + 5 * kSecond);
  expect_counts(0, 0, 0, 1, 0);

  advance(5 * kSecond - 1);
  EXPECT_EQ(state_of(id), JobState::Delayed);
  EXPECT_EQ(store.next_timer(), t0 + 5 * kSecond);
  advance(1);
  EXPECT_EQ(state_of(id), JobState::Ready);
  EXPECT_EQ(store.next_timer(), kNoTimer);
  expect_counts(1, 1, 0, 0, 0);
}

TEST_F(Store, DelayedJobIsNotReservable) {
  Client& c = connect();
  put(c, 100, 5);
  EXPECT_EQ(reserve(c, 0u), Outcomes{kTimedOut});
}

TEST_F(Store, DelayedJobsBecomeReadyInOrderOfTheirTime) {
  Client& c = connect();
  Nanos t0 = clock.now();
  std::uint64_t late = put(c, 100, 30);
  std::uint64_t early = put(c, 100, 10);
  std::uint64_t middle = put(c, 100, 20);
  EXPECT_EQ(store.next_timer(), t0 + 10 * kSecond);
  advance(10 * kSecond);
  EXPECT_EQ(state_of(early), JobState::Ready);
  EXPECT_EQ(state_of(middle), JobState::Delayed);
  EXPECT_EQ(store.next_timer(), t0 + 20 * kSecond);
  advance(10 * kSecond);
  EXPECT_EQ(state_of(middle), JobState::Ready);
  EXPECT_EQ(state_of(late), JobState::Delayed);
  EXPECT_EQ(store.next_timer(), t0 + 30 * kSecond);
  advance(10 * kSecond);
  EXPECT_EQ(state_of(late), JobState::Ready);
}

TEST_F(Store, ManyDelayedJobsAllComeDueInOneTimerPass) {
  Client& c = connect();
  for (std::uint32_t d = 1; d <= 20; ++d) put(c, 100, d);
  expect_counts(0, 0, 0, 20, 0);
  advance(100 * kSecond);
  expect_counts(20, 20, 0, 0, 0);
}

TEST_F(Store, DelayedJobComingDueWakesAWaiter) {
  Client& c = connect();
  Client& w = connect();
  Nanos t0 = clock.now();
  std::uint64_t id = put(c, 100, 3);
  EXPECT_EQ(reserve(w), Outcomes{});
  EXPECT_TRUE(w.session.waiting);
  advance(3 * kSecond);
  EXPECT_EQ(w.heard(), Outcomes{reserved(id)});
  EXPECT_FALSE(w.session.waiting);
  EXPECT_EQ(store.find_job(id)->activity().deadline_at, t0 + 3 * kSecond + 60 * kSecond);
}

// ---------------------------------------------------------------------------
// TTR

TEST_F(Store, TtrExpiryReturnsTheJobToReadyAndCountsATimeout) {
  Client& c = connect();
  Nanos t0 = clock.now();
  std::uint64_t id = put(c, 100, 0, 3);
  ASSERT_EQ(reserve(c), Outcomes{reserved(id)});
  EXPECT_EQ(store.next_timer(), t0 + 3 * kSecond);

  advance(3 * kSecond - 1);
  EXPECT_EQ(state_of(id), JobState::Reserved);
  advance(1);
  EXPECT_EQ(state_of(id), JobState::Ready);
  EXPECT_EQ(store.find_job(id)->activity().counts.timeouts, 1u);
  EXPECT_EQ(store.counters().job_timeouts, 1u);
  EXPECT_TRUE(c.session.reserved.empty());
  EXPECT_EQ(c.heard(), Outcomes{});  // a non-waiting holder hears nothing
  expect_counts(1, 1, 0, 0, 0);

  // And again: the counters keep adding up.
  ASSERT_EQ(reserve(c), Outcomes{reserved(id)});
  EXPECT_EQ(store.find_job(id)->activity().counts.reserves, 2u);
  advance(3 * kSecond);
  EXPECT_EQ(store.find_job(id)->activity().counts.timeouts, 2u);
  EXPECT_EQ(store.counters().job_timeouts, 2u);
}

TEST_F(Store, TimedOutJobGoesToAWaitingSession) {
  Client& a = connect();
  Client& b = connect();
  std::uint64_t id = put(a, 100, 0, 2);
  ASSERT_EQ(reserve(a), Outcomes{reserved(id)});
  EXPECT_EQ(reserve(b), Outcomes{});
  advance(2 * kSecond);
  EXPECT_EQ(b.heard(), Outcomes{reserved(id)});
  EXPECT_EQ(store.find_job(id)->activity().holder, &b.session);
  EXPECT_EQ(store.find_job(id)->activity().counts.timeouts, 1u);
  expect_counts(0, 0, 1, 0, 0);
}

TEST_F(Store, TouchPostponesTheTtr) {
  Client& c = connect();
  Nanos t0 = clock.now();
  std::uint64_t id = put(c, 100, 0, 5);
  reserve(c);
  advance(4 * kSecond);
  EXPECT_TRUE(store.touch(c.session, id));
  EXPECT_EQ(store.find_job(id)->activity().deadline_at, t0 + 9 * kSecond);
  EXPECT_EQ(store.next_timer(), t0 + 9 * kSecond);
  advance(4 * kSecond);
  EXPECT_EQ(state_of(id), JobState::Reserved);
  advance(1 * kSecond);
  EXPECT_EQ(state_of(id), JobState::Ready);
  EXPECT_EQ(store.counters().job_timeouts, 1u);
}

// ---------------------------------------------------------------------------
// DEADLINE_SOON

TEST_F(Store, ReserveWhileHoldingAJobWithinOneSecondOfItsDeadlineAnswersDeadlineSoon) {
  Client& c = connect();
  std::uint64_t id = put(c, 100, 0, 5);
  ASSERT_EQ(reserve(c), Outcomes{reserved(id)});
  clock.advance(4 * kSecond);
  EXPECT_EQ(reserve(c), Outcomes{kDeadlineSoon});
  EXPECT_FALSE(c.session.waiting);
  EXPECT_EQ(store.counters().waiting, 0u);
  EXPECT_EQ(state_of(id), JobState::Reserved);  // it stays reserved
  expect_counts(0, 0, 1, 0, 0);
}

TEST_F(Store, ReserveJustBeforeTheSafetyMarginWaits) {
  Client& c = connect();
  std::uint64_t id = put(c, 100, 0, 5);
  ASSERT_EQ(reserve(c), Outcomes{reserved(id)});
  clock.advance(4 * kSecond - 1);
  EXPECT_EQ(reserve(c), Outcomes{});
  EXPECT_TRUE(c.session.waiting);
  // One nanosecond later the margin starts and the wait ends.
  advance(1);
  EXPECT_EQ(c.heard(), Outcomes{kDeadlineSoon});
  EXPECT_FALSE(c.session.waiting);
}

TEST_F(Store, ReserveWithTimeoutZeroAlsoAnswersDeadlineSoon) {
  Client& c = connect();
  put(c, 100, 0, 5);
  reserve(c);
  clock.advance(4 * kSecond);
  EXPECT_EQ(reserve(c, 0u), Outcomes{kDeadlineSoon});
}

TEST_F(Store, TtrOfOneSecondIsDeadlineSoonAtOnce) {
  Client& c = connect();
  std::uint64_t id = put(c, 100, 0, 1);
  ASSERT_EQ(reserve(c), Outcomes{reserved(id)});
  EXPECT_EQ(reserve(c), Outcomes{kDeadlineSoon});
}

TEST_F(Store, DeadlineSoonIsNotAnsweredWhenAJobIsReady) {
  Client& c = connect();
  std::uint64_t first = put(c, 100, 0, 5);
  ASSERT_EQ(reserve(c), Outcomes{reserved(first)});
  std::uint64_t second = put(c);
  clock.advance(4 * kSecond + kSecond / 2);
  EXPECT_EQ(reserve(c), Outcomes{reserved(second)});
}

// Like the reference (conn_ready counts paused tubes' ready jobs), a ready
// job in a paused watched tube stops the immediate DEADLINE_SOON; the
// session waits, its tick is already due, and the next timer pass answers.
TEST_F(Store, DeadlineSoonWithOnlyPausedReadyJobsComesFromTheNextTimerPass) {
  Client& c = connect();
  const std::uint64_t held = hold_into_last_second_beside_a_paused_ready_job(c);
  EXPECT_EQ(reserve(c), Outcomes{});
  EXPECT_LE(store.next_timer(), clock.now());
  store.process_timers();
  EXPECT_EQ(c.heard(), Outcomes{kDeadlineSoon});
  EXPECT_FALSE(c.session.waiting);
  EXPECT_EQ(state_of(held), JobState::Reserved);
}

// With a timeout of 0 the same session hears DEADLINE_SOON at once: the
// reference's zero-second wait ends on a timer pass that checks the margin
// before the timeout.
TEST_F(Store, ReserveWithTimeoutZeroTellsDeadlineSoonPastOnlyPausedReadyJobs) {
  Client& c = connect();
  const std::uint64_t held = hold_into_last_second_beside_a_paused_ready_job(c);
  EXPECT_EQ(reserve(c, 0), Outcomes{kDeadlineSoon});
  EXPECT_FALSE(c.session.waiting);
  EXPECT_EQ(state_of(held), JobState::Reserved);
}

TEST_F(Store, AWaitingSessionGetsDeadlineSoonWhenItsHeldJobEntersTheLastSecond) {
  Client& c = connect();
  Nanos t0 = clock.now();
  std::uint64_t id = put(c, 100, 0, 10);
  ASSERT_EQ(reserve(c), Outcomes{reserved(id)});
  EXPECT_EQ(reserve(c), Outcomes{});
  EXPECT_TRUE(c.session.waiting);
  EXPECT_EQ(store.counters().waiting, 1u);
  EXPECT_EQ(store.next_timer(), t0 + 9 * kSecond);

  advance(9 * kSecond - 1);
  EXPECT_EQ(c.heard(), Outcomes{});
  EXPECT_TRUE(c.session.waiting);
  advance(1);
  EXPECT_EQ(c.heard(), Outcomes{kDeadlineSoon});
  EXPECT_FALSE(c.session.waiting);
  EXPECT_EQ(store.counters().waiting, 0u);
  // The job stays reserved until its TTR actually ends.
  EXPECT_EQ(state_of(id), JobState::Reserved);
  EXPECT_EQ(store.next_timer(), t0 + 10 * kSecond);
  advance(kSecond);
  EXPECT_EQ(state_of(id), JobState::Ready);
  EXPECT_EQ(c.heard(), Outcomes{});
}

TEST_F(Store, DeadlineSoonComesBeforeTheReserveTimeoutWhenEarlier) {
  Client& c = connect();
  std::uint64_t id = put(c, 100, 0, 10);
  reserve(c);
  EXPECT_EQ(reserve(c, 100u), Outcomes{});
  advance(9 * kSecond);
  EXPECT_EQ(c.heard(), Outcomes{kDeadlineSoon});
  EXPECT_EQ(state_of(id), JobState::Reserved);
}

TEST_F(Store, ReserveTimeoutComesBeforeDeadlineSoonWhenEarlier) {
  Client& c = connect();
  Nanos t0 = clock.now();
  put(c, 100, 0, 100);
  reserve(c);
  EXPECT_EQ(reserve(c, 5u), Outcomes{});
  EXPECT_EQ(store.next_timer(), t0 + 5 * kSecond);
  advance(5 * kSecond);
  EXPECT_EQ(c.heard(), Outcomes{kTimedOut});
}

TEST_F(Store, DeadlineSoonFollowsOnlyTheJobsStillHeld) {
  Client& c = connect();
  Nanos t0 = clock.now();
  std::uint64_t a = put(c, 100, 0, 10);
  std::uint64_t b = put(c, 100, 0, 20);
  ASSERT_EQ(reserve(c), Outcomes{reserved(a)});
  ASSERT_EQ(reserve(c), Outcomes{reserved(b)});
  EXPECT_TRUE(store.delete_job(c.session, a));
  EXPECT_EQ(reserve(c), Outcomes{});
  // Only b drives the margin now.
  EXPECT_EQ(store.next_timer(), t0 + 19 * kSecond);
  advance(9 * kSecond);
  EXPECT_EQ(c.heard(), Outcomes{});
  advance(10 * kSecond);
  EXPECT_EQ(c.heard(), Outcomes{kDeadlineSoon});
}

// ---------------------------------------------------------------------------
// reserve timeouts and waiting

TEST_F(Store, ReserveWithTimeoutZeroAnswersTimedOutAtOnce) {
  Client& c = connect();
  EXPECT_EQ(reserve(c, 0u), Outcomes{kTimedOut});
  EXPECT_FALSE(c.session.waiting);
  EXPECT_EQ(store.counters().waiting, 0u);
  EXPECT_EQ(store.next_timer(), kNoTimer);
}

TEST_F(Store, ReserveWithTimeoutZeroTakesAReadyJob) {
  Client& c = connect();
  std::uint64_t id = put(c);
  EXPECT_EQ(reserve(c, 0u), Outcomes{reserved(id)});
}

TEST_F(Store, ReserveWithTimeoutAnswersTimedOutAfterThatManySeconds) {
  Client& c = connect();
  Nanos t0 = clock.now();
  EXPECT_EQ(reserve(c, 7u), Outcomes{});
  EXPECT_TRUE(c.session.waiting);
  EXPECT_EQ(c.session.wait_until, t0 + 7 * kSecond);
  EXPECT_EQ(store.next_timer(), t0 + 7 * kSecond);
  advance(7 * kSecond - 1);
  EXPECT_EQ(c.heard(), Outcomes{});
  EXPECT_TRUE(c.session.waiting);
  advance(1);
  EXPECT_EQ(c.heard(), Outcomes{kTimedOut});
  EXPECT_FALSE(c.session.waiting);
  EXPECT_EQ(store.counters().waiting, 0u);
  EXPECT_EQ(store.next_timer(), kNoTimer);
  EXPECT_TRUE(store.find_tube("default")->waiters.empty());
}

TEST_F(Store, AJobArrivingBeforeTheTimeoutIsReserved) {
  Client& c = connect();
  Client& p = connect();
  EXPECT_EQ(reserve(c, 10u), Outcomes{});
  advance(5 * kSecond);
  std::uint64_t id = put(p);
  EXPECT_EQ(c.heard(), Outcomes{reserved(id)});
  EXPECT_EQ(store.next_timer(), clock.now() + 60 * kSecond);  // only its TTR
  advance(5 * kSecond);
  EXPECT_EQ(c.heard(), Outcomes{});
}

TEST_F(Store, ReserveWithoutTimeoutWaitsForever) {
  Client& c = connect();
  EXPECT_EQ(reserve(c), Outcomes{});
  EXPECT_TRUE(c.session.waiting);
  EXPECT_EQ(store.next_timer(), kNoTimer);
  advance(1'000'000 * kSecond);
  EXPECT_EQ(c.heard(), Outcomes{});
  EXPECT_TRUE(c.session.waiting);
}

TEST_F(Store, ReserveWithTheLargestTimeoutDoesNotOverflow) {
  Client& c = connect();
  EXPECT_EQ(reserve(c, 2147483647u), Outcomes{});
  EXPECT_GT(store.next_timer(), clock.now());
  advance(kSecond);
  EXPECT_TRUE(c.session.waiting);
}

TEST_F(Store, CancelWaitAnswersTimedOut) {
  Client& c = connect();
  reserve(c);
  store.cancel_wait(c.session);
  EXPECT_EQ(c.heard(), Outcomes{kTimedOut});
  EXPECT_FALSE(c.session.waiting);
  EXPECT_EQ(store.counters().waiting, 0u);
  // Not waiting: nothing more to say.
  store.cancel_wait(c.session);
  EXPECT_EQ(c.heard(), Outcomes{});
}

TEST_F(Store, WaitingSessionsAreServedFirstComeFirstServed) {
  Client& p = connect();
  Client& w1 = connect();
  Client& w2 = connect();
  Client& w3 = connect();
  reserve(w2);
  reserve(w1);
  reserve(w3);
  EXPECT_EQ(store.counters().waiting, 3u);
  EXPECT_EQ(store.find_tube("default")->waiters.size(), 3u);
  std::uint64_t a = put(p);
  std::uint64_t b = put(p);
  std::uint64_t c = put(p);
  EXPECT_EQ(w2.heard(), Outcomes{reserved(a)});
  EXPECT_EQ(w1.heard(), Outcomes{reserved(b)});
  EXPECT_EQ(w3.heard(), Outcomes{reserved(c)});
  EXPECT_EQ(store.counters().waiting, 0u);
  EXPECT_TRUE(store.find_tube("default")->waiters.empty());
}

TEST_F(Store, APutIntoAWatchedTubeWakesAWaiter) {
  Client& p = connect();
  Client& w = connect();
  store.watch(w.session, "jobs");
  store.ignore(w.session, "default");
  EXPECT_EQ(reserve(w), Outcomes{});
  std::uint64_t other = put(p);  // into default, not watched
  EXPECT_EQ(w.heard(), Outcomes{});
  store.use(p.session, "jobs");
  std::uint64_t id = put(p);
  EXPECT_EQ(w.heard(), Outcomes{reserved(id)});
  EXPECT_EQ(state_of(other), JobState::Ready);
}

TEST_F(Store, AWaiterWatchingSeveralTubesIsWokenByAnyAndServedOnce) {
  Client& p = connect();
  Client& w = connect();
  Client& late = connect();
  store.watch(w.session, "a");
  store.watch(w.session, "b");
  store.watch(late.session, "a");
  reserve(w);
  reserve(late);
  store.use(p.session, "b");
  std::uint64_t first = put(p);
  EXPECT_EQ(w.heard(), Outcomes{reserved(first)});
  // w left every tube's waiting list: the next job in "a" goes to `late`.
  EXPECT_TRUE(store.find_tube("b")->waiters.empty());
  store.use(p.session, "a");
  std::uint64_t second = put(p);
  EXPECT_EQ(late.heard(), Outcomes{reserved(second)});
  EXPECT_EQ(w.heard(), Outcomes{});
}

TEST_F(Store, ADelayedPutDoesNotWakeAWaiter) {
  Client& p = connect();
  Client& w = connect();
  reserve(w);
  put(p, 100, 1);
  EXPECT_EQ(w.heard(), Outcomes{});
  EXPECT_TRUE(w.session.waiting);
}

TEST_F(Store, AReleasedJobGoesToAWaiter) {
  Client& a = connect();
  Client& b = connect();
  std::uint64_t id = put(a);
  reserve(a);
  reserve(b);
  ASSERT_TRUE(store.release(a.session, id, 100, 0));
  EXPECT_EQ(b.heard(), Outcomes{reserved(id)});
}

TEST_F(Store, AKickedJobGoesToAWaiter) {
  Client& a = connect();
  Client& b = connect();
  std::uint64_t id = put(a);
  reserve(a);
  ASSERT_TRUE(store.bury(a.session, id, 100));
  reserve(b);
  EXPECT_EQ(store.kick(a.session, 10), 1u);
  EXPECT_EQ(b.heard(), Outcomes{reserved(id)});
}

// ---------------------------------------------------------------------------
// pause-tube

TEST_F(Store, PauseTubeOfAnUnknownTubeIsNotFoundAndDoesNotCreateIt) {
  EXPECT_FALSE(store.pause_tube("nope", 10));
  EXPECT_EQ(store.find_tube("nope"), nullptr);
}

TEST_F(Store, PausedTubeHoldsReservesUntilThePauseEnds) {
  Client& p = connect();
  Client& w = connect();
  Nanos t0 = clock.now();
  std::uint64_t id = put(p);
  ASSERT_TRUE(store.pause_tube("default", 10));
  Tube* tube = store.find_tube("default");
  EXPECT_TRUE(tube->paused());
  EXPECT_EQ(tube->pause_duration, 10 * kSecond);
  EXPECT_EQ(tube->unpause_at, t0 + 10 * kSecond);
  EXPECT_EQ(tube->cmd_pause_tube, 1u);

  EXPECT_EQ(reserve(w), Outcomes{});
  EXPECT_TRUE(w.session.waiting);
  EXPECT_EQ(store.next_timer(), t0 + 10 * kSecond);
  advance(10 * kSecond - 1);
  EXPECT_EQ(w.heard(), Outcomes{});
  advance(1);
  EXPECT_EQ(w.heard(), Outcomes{reserved(id)});
  EXPECT_FALSE(tube->paused());
  EXPECT_EQ(store.next_timer(), clock.now() + 60 * kSecond);
}

TEST_F(Store, PutIntoAPausedTubeDoesNotWakeItsWaiters) {
  Client& p = connect();
  Client& w = connect();
  ASSERT_TRUE(store.pause_tube("default", 5));
  reserve(w);
  put(p);
  EXPECT_EQ(w.heard(), Outcomes{});
  advance(5 * kSecond);
  EXPECT_EQ(w.heard(), Outcomes{reserved(1)});
}

TEST_F(Store, PauseZeroUnpausesAtOnceAndWakesWaiters) {
  Client& p = connect();
  Client& w = connect();
  ASSERT_TRUE(store.pause_tube("default", 100));
  std::uint64_t id = put(p);
  reserve(w);
  EXPECT_EQ(w.heard(), Outcomes{});
  ASSERT_TRUE(store.pause_tube("default", 0));
  EXPECT_FALSE(store.find_tube("default")->paused());
  EXPECT_EQ(w.heard(), Outcomes{reserved(id)});
  EXPECT_EQ(store.find_tube("default")->cmd_pause_tube, 2u);
  // The old unpause timer is gone.
  EXPECT_EQ(store.next_timer(), clock.now() + 60 * kSecond);
}

TEST_F(Store, PausingAgainRestartsThePause) {
  Client& p = connect();
  Client& w = connect();
  Nanos t0 = clock.now();
  put(p);
  ASSERT_TRUE(store.pause_tube("default", 10));
  advance(5 * kSecond);
  ASSERT_TRUE(store.pause_tube("default", 10));
  EXPECT_EQ(store.next_timer(), t0 + 15 * kSecond);
  reserve(w);
  advance(5 * kSecond);
  EXPECT_EQ(w.heard(), Outcomes{});
  advance(5 * kSecond);
  EXPECT_EQ(w.heard(), Outcomes{reserved(1)});
}

TEST_F(Store, APausedTubeDoesNotBlockOtherWatchedTubes) {
  Client& p = connect();
  Client& w = connect();
  std::uint64_t paused_job = put(p, 1);
  store.use(p.session, "open");
  std::uint64_t open_job = put(p, 500);
  store.watch(w.session, "open");
  ASSERT_TRUE(store.pause_tube("default", 10));
  EXPECT_EQ(reserve(w), Outcomes{reserved(open_job)});
  EXPECT_EQ(state_of(paused_job), JobState::Ready);
}

TEST_F(Store, ReserveWithTimeoutZeroOnAPausedTubeTimesOut) {
  Client& p = connect();
  put(p);
  ASSERT_TRUE(store.pause_tube("default", 10));
  EXPECT_EQ(reserve(p, 0u), Outcomes{kTimedOut});
}

TEST_F(Store, PeeksIgnorePauses) {
  Client& p = connect();
  std::uint64_t id = put(p);
  ASSERT_TRUE(store.pause_tube("default", 10));
  ASSERT_NE(store.peek_ready(p.session), nullptr);
  EXPECT_EQ(store.peek_ready(p.session)->id, id);
}

TEST_F(Store, APausedTubeThatGoesAwayLeavesNoTimer) {
  Client& c = connect();
  store.use(c.session, "brief");
  ASSERT_TRUE(store.pause_tube("brief", 10));
  store.use(c.session, "default");
  EXPECT_EQ(store.find_tube("brief"), nullptr);
  EXPECT_EQ(store.next_timer(), kNoTimer);
  advance(20 * kSecond);  // must not touch the freed tube
}

// ---------------------------------------------------------------------------
// kick and kick-job

TEST_F(Store, KickKicksBuriedJobsFirstOldestBuriedFirst) {
  Client& c = connect();
  std::uint64_t a = put(c, 1);
  std::uint64_t b = put(c, 2);
  std::uint64_t d = put(c, 100, 5);  // delayed
  // Reserve a then b, bury b then a: the buried FIFO is b, a.
  ASSERT_EQ(reserve(c), Outcomes{reserved(a)});
  ASSERT_EQ(reserve(c), Outcomes{reserved(b)});
  ASSERT_TRUE(store.bury(c.session, b, 2));
  ASSERT_TRUE(store.bury(c.session, a, 1));
  ASSERT_EQ(store.peek_buried(c.session)->id, b);
  expect_counts(0, 0, 0, 1, 2);

  EXPECT_EQ(store.kick(c.session, 1), 1u);
  EXPECT_EQ(state_of(b), JobState::Ready);
  EXPECT_EQ(state_of(a), JobState::Buried);
  EXPECT_EQ(store.find_job(b)->activity().counts.kicks, 1u);

  // A bound larger than the buried count kicks only buried jobs.
  EXPECT_EQ(store.kick(c.session, 10), 1u);
  EXPECT_EQ(state_of(a), JobState::Ready);
  EXPECT_EQ(state_of(d), JobState::Delayed);
  expect_counts(2, 2, 0, 1, 0);
}

TEST_F(Store, KickKicksDelayedJobsOnlyWhenNoneAreBuriedSoonestFirst) {
  Client& c = connect();
  std::uint64_t late = put(c, 100, 30);
  std::uint64_t soon = put(c, 100, 10);
  std::uint64_t mid = put(c, 100, 20);
  EXPECT_EQ(store.kick(c.session, 1), 1u);
  EXPECT_EQ(state_of(soon), JobState::Ready);
  EXPECT_EQ(store.kick(c.session, 1), 1u);
  EXPECT_EQ(state_of(mid), JobState::Ready);
  EXPECT_EQ(state_of(late), JobState::Delayed);
  EXPECT_EQ(store.kick(c.session, 5), 1u);
  EXPECT_EQ(state_of(late), JobState::Ready);
  EXPECT_EQ(store.find_job(late)->activity().counts.kicks, 1u);
  EXPECT_EQ(store.next_timer(), kNoTimer);
  EXPECT_EQ(store.kick(c.session, 5), 0u);
  expect_counts(3, 3, 0, 0, 0);
}

TEST_F(Store, KickZeroKicksNothing) {
  Client& c = connect();
  put(c, 100, 10);
  EXPECT_EQ(store.kick(c.session, 0), 0u);
  expect_counts(0, 0, 0, 1, 0);
}

TEST_F(Store, KickWorksOnTheUsedTubeOnly) {
  Client& c = connect();
  std::uint64_t in_default = put(c, 100, 10);
  store.use(c.session, "other");
  EXPECT_EQ(store.kick(c.session, 10), 0u);
  EXPECT_EQ(state_of(in_default), JobState::Delayed);
  std::uint64_t in_other = put(c, 100, 10);
  EXPECT_EQ(store.kick(c.session, 10), 1u);
  EXPECT_EQ(state_of(in_other), JobState::Ready);
  EXPECT_EQ(state_of(in_default), JobState::Delayed);
}

TEST_F(Store, KickJobKicksBuriedAndDelayedJobsOnly) {
  Client& c = connect();
  Client& other = connect();
  std::uint64_t ready = put(c);
  std::uint64_t held = put(c);
  std::uint64_t buried = put(c);
  std::uint64_t delayed = put(c, 100, 10);
  ASSERT_EQ(reserve(c), Outcomes{reserved(ready)});
  ASSERT_TRUE(store.release(c.session, ready, 100, 0));
  ASSERT_EQ(reserve(c), Outcomes{reserved(ready)});
  ASSERT_TRUE(store.release(c.session, ready, 200, 0));  // ready, now last
  ASSERT_EQ(reserve(c), Outcomes{reserved(held)});
  ASSERT_EQ(reserve(c), Outcomes{reserved(buried)});
  ASSERT_TRUE(store.bury(c.session, buried, 100));

  EXPECT_FALSE(store.kick_job(ready));
  EXPECT_FALSE(store.kick_job(held));
  EXPECT_FALSE(store.kick_job(9999));
  EXPECT_TRUE(store.kick_job(buried));
  EXPECT_TRUE(store.kick_job(delayed));
  EXPECT_EQ(state_of(buried), JobState::Ready);
  EXPECT_EQ(state_of(delayed), JobState::Ready);
  EXPECT_EQ(state_of(held), JobState::Reserved);
  EXPECT_EQ(store.find_job(buried)->activity().counts.kicks, 1u);
  EXPECT_EQ(store.find_job(delayed)->activity().counts.kicks, 1u);
  EXPECT_FALSE(store.kick_job(buried));  // ready now
  (void)other;
  expect_counts(3, 3, 1, 0, 0);
}

TEST_F(Store, KickJobWorksInAnyTube) {
  Client& c = connect();
  store.use(c.session, "elsewhere");
  std::uint64_t id = put(c, 100, 10);
  store.use(c.session, "default");
  EXPECT_TRUE(store.kick_job(id));
  EXPECT_EQ(state_of(id), JobState::Ready);
}

// ---------------------------------------------------------------------------
// bury / touch / release need the job reserved by this session

TEST_F(Store, BuryTouchReleaseNeedTheJobReservedByThisSession) {
  Client& a = connect();
  Client& b = connect();
  std::uint64_t held = put(a);
  std::uint64_t ready = put(a);
  std::uint64_t delayed = put(a, 100, 10);
  ASSERT_EQ(reserve(a), Outcomes{reserved(held)});

  for (std::uint64_t id : {held, ready, delayed, std::uint64_t{424242}}) {
    SCOPED_TRACE("job " + std::to_string(id));
    EXPECT_FALSE(store.bury(b.session, id, 1));
    EXPECT_FALSE(store.touch(b.session, id));
    EXPECT_FALSE(store.release(b.session, id, 1, 0));
  }
  for (std::uint64_t id : {ready, delayed, std::uint64_t{424242}}) {
    SCOPED_TRACE("job " + std::to_string(id));
    EXPECT_FALSE(store.bury(a.session, id, 1));
    EXPECT_FALSE(store.touch(a.session, id));
    EXPECT_FALSE(store.release(a.session, id, 1, 0));
  }
  EXPECT_EQ(state_of(held), JobState::Reserved);
  EXPECT_EQ(state_of(ready), JobState::Ready);
  EXPECT_EQ(state_of(delayed), JobState::Delayed);
  EXPECT_EQ(store.find_job(held)->priority, 100u);

  EXPECT_TRUE(store.touch(a.session, held));
  EXPECT_TRUE(store.bury(a.session, held, 7));
  // Buried now: no longer held, so neither works again.
  EXPECT_FALSE(store.bury(a.session, held, 7));
  EXPECT_FALSE(store.release(a.session, held, 7, 0));
  EXPECT_FALSE(store.touch(a.session, held));
}

TEST_F(Store, BuryPutsTheJobInTheBuriedFifoWithItsNewPriority) {
  Client& c = connect();
  std::uint64_t id = put(c, 10);
  reserve(c);
  ASSERT_TRUE(store.bury(c.session, id, 77));
  Job* job = store.find_job(id);
  EXPECT_EQ(job->state, JobState::Buried);
  EXPECT_EQ(job->priority, 77u);
  EXPECT_EQ(job->activity().counts.buries, 1u);
  EXPECT_EQ(job->activity().holder, nullptr);
  EXPECT_TRUE(c.session.reserved.empty());
  EXPECT_EQ(store.next_timer(), kNoTimer);  // no TTR for a buried job
  EXPECT_EQ(store.peek_buried(c.session), job);
  expect_counts(0, 0, 0, 0, 1);
  EXPECT_EQ(reserve(c, 0u), Outcomes{kTimedOut});
}

TEST_F(Store, PeeksLookAtTheUsedTube) {
  Client& c = connect();
  EXPECT_EQ(store.peek_ready(c.session), nullptr);
  EXPECT_EQ(store.peek_delayed(c.session), nullptr);
  EXPECT_EQ(store.peek_buried(c.session), nullptr);
  std::uint64_t r2 = put(c, 20);
  std::uint64_t r1 = put(c, 10);
  std::uint64_t d2 = put(c, 1, 20);
  std::uint64_t d1 = put(c, 1, 10);
  EXPECT_EQ(store.peek_ready(c.session)->id, r1);
  EXPECT_EQ(store.peek_delayed(c.session)->id, d1);
  (void)r2;
  (void)d2;
  store.use(c.session, "empty");
  EXPECT_EQ(store.peek_ready(c.session), nullptr);
  EXPECT_EQ(store.peek_delayed(c.session), nullptr);
}

// ---------------------------------------------------------------------------
// reserve-job

TEST_F(Store, ReserveJobTakesReadyDelayedAndBuriedJobsFromAnyTube) {
  Client& p = connect();
  Client& w = connect();
  store.use(p.session, "unwatched");
  std::uint64_t ready = put(p);
  std::uint64_t delayed = put(p, 100, 50);
  std::uint64_t buried = put(p, 1);
  store.watch(p.session, "unwatched");
  store.ignore(p.session, "default");
  ASSERT_EQ(reserve(p), Outcomes{reserved(buried)});
  ASSERT_TRUE(store.bury(p.session, buried, 1));

  for (std::uint64_t id : {ready, delayed, buried}) {
    SCOPED_TRACE("job " + std::to_string(id));
    Job* job = store.reserve_job(w.session, id);
    ASSERT_NE(job, nullptr);
    EXPECT_EQ(job->id, id);
    EXPECT_EQ(job->state, JobState::Reserved);
    EXPECT_EQ(job->activity().holder, &w.session);
    EXPECT_EQ(job->activity().deadline_at, clock.now() + 60 * kSecond);
  }
  EXPECT_EQ(w.heard(), (Outcomes{reserved(ready), reserved(delayed), reserved(buried)}));
  EXPECT_EQ(store.counters().workers, 2u);
  expect_counts(0, 0, 3, 0, 0);
  // The delayed job's timer is now its TTR.
  EXPECT_EQ(store.next_timer(), clock.now() + 60 * kSecond);
}

TEST_F(Store, ReserveJobRefusesReservedJobsEvenFromTheHolder) {
  Client& a = connect();
  Client& b = connect();
  std::uint64_t id = put(a);
  ASSERT_EQ(reserve(a), Outcomes{reserved(id)});
  EXPECT_EQ(store.reserve_job(a.session, id), nullptr);
  EXPECT_EQ(store.reserve_job(b.session, id), nullptr);
  EXPECT_EQ(store.reserve_job(b.session, 999), nullptr);
  EXPECT_EQ(store.find_job(id)->activity().holder, &a.session);
  EXPECT_EQ(store.find_job(id)->activity().counts.reserves, 1u);
}

TEST_F(Store, ReserveJobIgnoresPauses) {
  Client& c = connect();
  std::uint64_t id = put(c);
  ASSERT_TRUE(store.pause_tube("default", 100));
  ASSERT_NE(store.reserve_job(c.session, id), nullptr);
  EXPECT_EQ(state_of(id), JobState::Reserved);
}

// ---------------------------------------------------------------------------
// detach

TEST_F(Store, DetachReturnsHeldJobsToReadyWithoutCountingATimeout) {
  Client& a = connect();
  Client& b = connect();
  std::uint64_t j1 = put(a);
  std::uint64_t j2 = put(a);
  reserve(a);
  reserve(a);
  expect_counts(0, 0, 2, 0, 0);
  store.detach(a.session);
  EXPECT_EQ(state_of(j1), JobState::Ready);
  EXPECT_EQ(state_of(j2), JobState::Ready);
  EXPECT_EQ(store.find_job(j1)->activity().counts.timeouts, 0u);
  EXPECT_EQ(store.counters().job_timeouts, 0u);
  EXPECT_EQ(store.next_timer(), kNoTimer);
  EXPECT_EQ(store.counters().producers, 0u);
  EXPECT_EQ(store.counters().workers, 0u);
  EXPECT_EQ(store.find_tube("default")->using_count, 1u);
  EXPECT_EQ(store.find_tube("default")->watching_count, 1u);
  expect_counts(2, 2, 0, 0, 0);
  EXPECT_EQ(reserve(b), Outcomes{reserved(j1)});
}

TEST_F(Store, DetachHandsReturnedJobsToWaiters) {
  Client& a = connect();
  Client& b = connect();
  std::uint64_t id = put(a);
  reserve(a);
  reserve(b);
  store.detach(a.session);
  EXPECT_EQ(b.heard(), Outcomes{reserved(id)});
  EXPECT_EQ(a.heard(), Outcomes{});
}

// The reference returns a closing connection's jobs in the order it reserved
// them, each straight to a waiter if there is one: the first waiter gets the
// oldest reservation still held, whatever the priorities.
TEST_F(Store, DetachReturnsHeldJobsInReservationOrder) {
  Client& a = connect();
  Client& b = connect();
  Client& c = connect();
  Client& d = connect();
  std::uint64_t j1 = put(a, 50);
  std::uint64_t j2 = put(a, 10);
  std::uint64_t j3 = put(a, 30);
  std::uint64_t j4 = put(a, 20);
  // Reserve order: 2, 4, 3, 1 (priority order); then give back 4.
  for (int i = 0; i < 4; ++i) reserve(a);
  ASSERT_TRUE(store.release(a.session, j4, 20, 0));
  ASSERT_EQ(reserve(b), Outcomes{reserved(j4)});
  reserve(c);
  reserve(d);
  store.detach(a.session);
  // a still held 2, 3, 1, reserved in that order.
  EXPECT_EQ(c.heard(), Outcomes{reserved(j2)});
  EXPECT_EQ(d.heard(), Outcomes{reserved(j3)});
  EXPECT_EQ(state_of(j1), JobState::Ready);
}

TEST_F(Store, DetachOfAWaitingSessionStopsItsWait) {
  Client& a = connect();
  reserve(a, 10u);
  EXPECT_EQ(store.counters().waiting, 1u);
  store.detach(a.session);
  EXPECT_EQ(store.counters().waiting, 0u);
  EXPECT_FALSE(a.session.waiting);
  EXPECT_TRUE(store.find_tube("default")->waiters.empty());
  EXPECT_EQ(store.next_timer(), kNoTimer);
  advance(20 * kSecond);
  EXPECT_EQ(a.heard(), Outcomes{});
  // A later put must not try to hand a job to it.
  Client& b = connect();
  put(b);
  expect_counts(1, 1, 0, 0, 0);
}

TEST_F(Store, DetachTwiceIsHarmless) {
  Client& a = connect();
  store.detach(a.session);
  store.detach(a.session);
  EXPECT_EQ(store.find_tube("default")->using_count, 0u);
}

TEST_F(Store, ProducersAndWorkersAreCountedUntilDetach) {
  Client& a = connect();
  Client& b = connect();
  put(a);
  put(a);
  EXPECT_EQ(store.counters().producers, 1u);
  EXPECT_EQ(store.counters().workers, 0u);
  reserve(b, 0u);
  reserve(b, 0u);
  reserve(a, 0u);
  EXPECT_EQ(store.counters().workers, 2u);
  store.detach(a.session);
  EXPECT_EQ(store.counters().producers, 0u);
  EXPECT_EQ(store.counters().workers, 1u);
}

// ---------------------------------------------------------------------------
// tubes

TEST_F(Store, TubesAreCreatedOnUseAndWatch) {
  Client& c = connect();
  store.use(c.session, "used");
  EXPECT_EQ(store.watch(c.session, "watched"), 2u);
  ASSERT_NE(store.find_tube("used"), nullptr);
  ASSERT_NE(store.find_tube("watched"), nullptr);
  EXPECT_EQ(store.find_tube("used")->using_count, 1u);
  EXPECT_EQ(store.find_tube("watched")->watching_count, 1u);
  EXPECT_EQ(tube_names(), (std::vector<std::string>{"default", "used", "watched"}));
}

TEST_F(Store, UnreferencedTubesAreDropped) {
  Client& c = connect();
  store.use(c.session, "a");
  store.use(c.session, "b");
  EXPECT_EQ(store.find_tube("a"), nullptr);
  store.watch(c.session, "w");
  store.ignore(c.session, "w");
  EXPECT_EQ(store.find_tube("w"), nullptr);
  EXPECT_EQ(tube_names(), (std::vector<std::string>{"default", "b"}));
}

TEST_F(Store, DefaultTubeIsNeverDropped) {
  Client& c = connect();
  store.use(c.session, "x");
  store.watch(c.session, "y");
  store.ignore(c.session, "default");
  ASSERT_NE(store.find_tube("default"), nullptr);
  EXPECT_EQ(store.find_tube("default")->using_count, 0u);
  EXPECT_EQ(store.find_tube("default")->watching_count, 0u);
  EXPECT_TRUE(store.pause_tube("default", 0));
}

TEST_F(Store, ATubeWithJobsOutlivesItsUsersUntilTheLastJobGoes) {
  Client& c = connect();
  store.use(c.session, "keep");
  std::uint64_t id = put(c, 100, 5);
  store.use(c.session, "default");
  ASSERT_NE(store.find_tube("keep"), nullptr);
  advance(5 * kSecond);
  ASSERT_NE(store.find_tube("keep"), nullptr);
  ASSERT_TRUE(store.kick_job(id) == false);  // ready now
  Client& d = connect();
  EXPECT_TRUE(store.delete_job(d.session, id));
  EXPECT_EQ(store.find_tube("keep"), nullptr);
}

TEST_F(Store, ATubeHoldingOnlyAReservedJobStaysUntilItIsDeleted) {
  Client& c = connect();
  store.use(c.session, "t");
  store.watch(c.session, "t");
  std::uint64_t id = put(c);
  store.use(c.session, "default");
  store.ignore(c.session, "t");
  // Only the job keeps "t" alive now; it is still ready.
  ASSERT_NE(store.find_tube("t"), nullptr);
  ASSERT_NE(store.reserve_job(c.session, id), nullptr);
  ASSERT_NE(store.find_tube("t"), nullptr);
  EXPECT_EQ(store.find_tube("t")->reserved_count, 1u);
  EXPECT_TRUE(store.delete_job(c.session, id));
  EXPECT_EQ(store.find_tube("t"), nullptr);
}

TEST_F(Store, ARemovedTubesPlaceInTheListIsTakenByTheLastTube) {
  Client& c = connect();
  store.watch(c.session, "a");
  store.watch(c.session, "b");
  store.watch(c.session, "c");
  EXPECT_EQ(tube_names(), (std::vector<std::string>{"default", "a", "b", "c"}));
  store.ignore(c.session, "a");
  EXPECT_EQ(tube_names(), (std::vector<std::string>{"default", "c", "b"}));
  for (std::size_t i = 0; i < store.tubes().size(); ++i) EXPECT_EQ(store.tubes()[i]->list_index, i);
}

TEST_F(Store, DetachDropsTubesOnlyItReferenced) {
  Client& a = connect();
  Client& b = connect();
  store.use(a.session, "mine");
  store.watch(a.session, "shared");
  store.watch(b.session, "shared");
  store.detach(a.session);
  EXPECT_EQ(store.find_tube("mine"), nullptr);
  ASSERT_NE(store.find_tube("shared"), nullptr);
  EXPECT_EQ(store.find_tube("shared")->watching_count, 1u);
}

// Regression: detach collects the used tube and every watched tube; a tube
// that is both must be dropped once, not freed and then read again
// (heap-use-after-free under ASan before the fix).
TEST_F(Store, DetachOfASessionUsingAndWatchingTheSameTubeDropsItOnce) {
  Client& a = connect();
  store.use(a.session, "both");
  store.watch(a.session, "both");
  store.watch(a.session, "other");
  store.detach(a.session);
  EXPECT_EQ(store.find_tube("both"), nullptr);
  EXPECT_EQ(store.find_tube("other"), nullptr);
  EXPECT_EQ(tube_names(), std::vector<std::string>{"default"});
  check_invariants();
}

TEST_F(Store, WatchingATubeTwiceIsNoError) {
  Client& c = connect();
  EXPECT_EQ(store.watch(c.session, "x"), 2u);
  EXPECT_EQ(store.watch(c.session, "x"), 2u);
  EXPECT_EQ(store.watch(c.session, "default"), 2u);
  EXPECT_EQ(store.find_tube("x")->watching_count, 1u);
}

TEST_F(Store, IgnoreOfTheLastWatchedTubeIsRefused) {
  Client& c = connect();
  EXPECT_EQ(store.ignore(c.session, "default"), std::nullopt);
  EXPECT_EQ(watched_names(c), std::vector<std::string>{"default"});
  store.watch(c.session, "x");
  EXPECT_EQ(store.ignore(c.session, "default"), std::optional<std::size_t>(1));
  EXPECT_EQ(store.ignore(c.session, "x"), std::nullopt);
  EXPECT_EQ(watched_names(c), std::vector<std::string>{"x"});
}

TEST_F(Store, IgnoreOfATubeNotWatchedAnswersTheWatchCount) {
  Client& c = connect();
  EXPECT_EQ(store.ignore(c.session, "never"), std::optional<std::size_t>(1));
  store.watch(c.session, "x");
  EXPECT_EQ(store.ignore(c.session, "never"), std::optional<std::size_t>(2));
  EXPECT_EQ(store.find_tube("never"), nullptr);
}

TEST_F(Store, IgnoreMovesTheLastWatchedTubeIntoTheFreedPlace) {
  Client& c = connect();
  store.watch(c.session, "a");
  store.watch(c.session, "b");
  store.watch(c.session, "c");
  EXPECT_EQ(store.ignore(c.session, "default"), std::optional<std::size_t>(3));
  EXPECT_EQ(watched_names(c), (std::vector<std::string>{"c", "a", "b"}));
}

TEST_F(Store, UseOfTheSameTubeAgainKeepsOneReference) {
  Client& c = connect();
  store.use(c.session, "same");
  store.use(c.session, "same");
  ASSERT_NE(store.find_tube("same"), nullptr);
  EXPECT_EQ(store.find_tube("same")->using_count, 1u);
}

// ---------------------------------------------------------------------------
// ids

TEST_F(Store, IdsStartAtOneAndOnlyGrow) {
  Client& c = connect();
  EXPECT_EQ(store.last_job_id(), 0u);
  std::uint64_t a = put(c);
  std::uint64_t b = put(c);
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  EXPECT_TRUE(store.delete_job(c.session, a));
  EXPECT_TRUE(store.delete_job(c.session, b));
  EXPECT_EQ(store.job_count(), 0u);
  EXPECT_EQ(put(c), 3u);
  EXPECT_EQ(store.last_job_id(), 3u);
}

TEST_F(Store, AnAllocatedButDiscardedJobStillUsesUpItsId) {
  Client& c = connect();
  Job* job = store.allocate_job(10);
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->id, 1u);
  store.discard_job(job);
  EXPECT_EQ(store.find_job(1), nullptr);
  EXPECT_EQ(store.job_count(), 0u);
  EXPECT_EQ(put(c), 2u);
}

// ---------------------------------------------------------------------------
// counts through every transition

TEST_F(Store, JobCountsStayRightThroughEveryTransition) {
  Client& c = connect();
  Client& w = connect();
  expect_counts(0, 0, 0, 0, 0);
  std::uint64_t urgent = put(c, 5);  // ready, urgent
  expect_counts(1, 1, 0, 0, 0);
  std::uint64_t normal = put(c, 5000);  // ready
  expect_counts(1, 2, 0, 0, 0);
  std::uint64_t later = put(c, 5, 10);  // delayed
  expect_counts(1, 2, 0, 1, 0);

  ASSERT_EQ(reserve(c), Outcomes{reserved(urgent)});
  expect_counts(0, 1, 1, 1, 0);
  ASSERT_TRUE(store.bury(c.session, urgent, 5));
  expect_counts(0, 1, 0, 1, 1);
  EXPECT_EQ(store.kick(c.session, 1), 1u);  // buried -> ready
  expect_counts(1, 2, 0, 1, 0);
  ASSERT_EQ(reserve(c), Outcomes{reserved(urgent)});
  ASSERT_TRUE(store.release(c.session, urgent, 2000, 0));  // no longer urgent
  expect_counts(0, 2, 0, 1, 0);
  ASSERT_EQ(reserve(c), Outcomes{reserved(urgent)});    // 2000 still beats 5000
  ASSERT_TRUE(store.release(c.session, urgent, 1, 3));  // delayed, urgent when ready
  expect_counts(0, 1, 0, 2, 0);
  advance(3 * kSecond);
  expect_counts(1, 2, 0, 1, 0);
  EXPECT_TRUE(store.kick_job(later));
  expect_counts(2, 3, 0, 0, 0);

  ASSERT_EQ(reserve(w), Outcomes{reserved(urgent)});
  expect_counts(1, 2, 1, 0, 0);
  advance(60 * kSecond);  // TTR
  expect_counts(2, 3, 0, 0, 0);
  ASSERT_NE(store.reserve_job(w.session, normal), nullptr);
  expect_counts(2, 2, 1, 0, 0);
  store.detach(w.session);
  expect_counts(2, 3, 0, 0, 0);
  for (std::uint64_t id : {urgent, normal, later}) EXPECT_TRUE(store.delete_job(c.session, id));
  expect_counts(0, 0, 0, 0, 0);
  EXPECT_EQ(store.job_count(), 0u);
}

// ---------------------------------------------------------------------------
// A randomized run: many sessions doing every operation, with the counts
// and structures checked against each other after each step.

TEST_F(Store, RandomOperationsKeepTheStoreConsistent) {
  std::mt19937_64 rng(20240611);
  std::vector<Client*> cs;
  for (int i = 0; i < 6; ++i) cs.push_back(&connect());
  const std::vector<std::string> names = {"default", "t1", "t2", "t3"};
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  std::uint64_t last_id = 0;
  for (int step = 0; step < 20000; ++step) {
    Client& c = *cs[pick(cs.size())];
    const std::string& name = names[pick(names.size())];
    std::uint64_t id = 1 + (last_id ? rng() % last_id : 0);
    switch (pick(16)) {
      case 0:
      case 1: {
        if (c.session.waiting) break;
        std::uint64_t nid = put(c, static_cast<std::uint32_t>(pick(2048)),
                                static_cast<std::uint32_t>(pick(3) == 0 ? pick(5) : 0),
                                static_cast<std::uint32_t>(pick(8)));
        EXPECT_GT(nid, last_id);
        last_id = nid;
        break;
      }
      case 2:
        if (!c.session.waiting) store.reserve(c.session, std::nullopt);
        break;
      case 3:
        if (!c.session.waiting) store.reserve(c.session, static_cast<std::uint32_t>(pick(4)));
        break;
      case 4:
        if (!c.session.waiting) store.delete_job(c.session, id);
        break;
      case 5:
        if (!c.session.waiting)
          store.release(c.session, id, static_cast<std::uint32_t>(pick(2048)),
                        static_cast<std::uint32_t>(pick(2) ? 0 : pick(4)));
        break;
      case 6:
        if (!c.session.waiting) store.bury(c.session, id, static_cast<std::uint32_t>(pick(2048)));
        break;
      case 7:
        if (!c.session.waiting) store.touch(c.session, id);
        break;
      case 8:
        if (!c.session.waiting) store.kick(c.session, static_cast<std::uint32_t>(pick(4)));
        break;
      case 9:
        store.kick_job(id);
        break;
      case 10:
        if (!c.session.waiting) store.use(c.session, name);
        break;
      case 11:
        if (!c.session.waiting) store.watch(c.session, name);
        break;
      case 12:
        if (!c.session.waiting) store.ignore(c.session, name);
        break;
      case 13:
        store.pause_tube(name, static_cast<std::uint32_t>(pick(3)));
        break;
      case 14:
        if (!c.session.waiting) store.reserve_job(c.session, id);
        break;
      case 15:
        if (pick(20) == 0) {
          detach(c);
          store.attach(c.session);
        } else {
          advance(static_cast<Nanos>(pick(1500)) * 1'000'000);
        }
        break;
    }
    for (Client* x : cs) {
      for (const Outcome& o : x->heard()) {
        if (o.kind == Outcome::Reserved) {
          Job* j = store.find_job(o.id);
          ASSERT_NE(j, nullptr);
        }
      }
      // A session is waiting exactly when it is in each watched tube's list.
      for (const auto& link : x->session.watched)
        EXPECT_EQ(link->tube->waiters.contains(link.get()), x->session.waiting);
    }
    // Nobody waits while a job it could take is ready and unpaused.
    for (Client* x : cs) {
      if (!x->session.waiting) continue;
      for (const auto& link : x->session.watched)
        if (!link->tube->paused()) {
          EXPECT_TRUE(link->tube->ready.empty()) << "step " << step;
        }
    }
    // The server arms its timer for next_timer(); a moment already past
    // fires at once. After that pass nothing may be due any more.
    if (store.next_timer() <= clock.now()) store.process_timers();
    EXPECT_GT(store.next_timer(), clock.now()) << "a timer is still due after process_timers";
    check_invariants();
    if (HasFailure()) {
      ADD_FAILURE() << "first failure at step " << step;
      return;
    }
  }
}

// Removing a job never shrinks a heap (so it never allocates); a put makes
// room in its tube's ready heap for every job that is not buried, so jobs
// held or delayed come back to ready without allocating; give_back_room
// shrinks heaps after a drain but keeps that room.
TEST_F(Store, ReadyHeapsKeepRoomForEveryJobThatCanComeBack) {
  Client& c = connect();
  std::vector<std::uint64_t> ids;
  ids.reserve(1000);
  for (int i = 0; i < 1000; ++i) ids.push_back(put(c));
  const Tube* tube = store.find_tube("default");
  const std::size_t room = tube->ready.room();
  EXPECT_GE(room, 1000u);
  for (int i = 0; i < 10; ++i) reserve(c);
  put(c, 100, 30);  // delayed
  for (std::uint64_t id : ids)
    if (store.find_job(id)->state == JobState::Ready) store.delete_job(c.session, id);
  EXPECT_EQ(tube->ready.size(), 0u);
  EXPECT_EQ(tube->ready.room(), room);  // deletes gave nothing back
  store.give_back_room();
  EXPECT_LT(tube->ready.room(), room);
  EXPECT_GE(tube->ready.room(), 11u);  // the 10 held and the delayed one
}

}  // namespace store_test
