// The store and its log when allocations fail: every store operation either
// throws std::bad_alloc having changed nothing, in memory or in the log, or
// completes; and the log's own writing, when memory runs out, fails like a
// failed write and catches up when memory is back. What a restart recovers
// is what memory held.
//
// This program replaces the global operator new, so that a test can make
// every allocation from the N-th on fail, for each N in turn (the way
// SQLite's malloc tests walk every failure point). It is a program of its
// own so that no other test runs with the replacement.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "beanstalkd/store.h"
#include "beanstalkd/wal/wal.h"
#include "fault_injection_fs.h"
#include "small_log_options.h"

// GCC takes the free() below, inlined where gtest deletes what it newed, for
// a mismatch; the replacement allocates with malloc, so it is not one.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

// Allocations left before they start failing; negative: none fail. Only the
// test's own thread counts: it plays the event loop, and a sync thread's
// allocations never fail (most tests run the log without one).
thread_local long allocations_left = -1;
thread_local long allocations_failed = 0;

bool allocation_fails() {
  if (allocations_left < 0) return false;
  if (allocations_left == 0) {
    ++allocations_failed;
    return true;
  }
  --allocations_left;
  return false;
}

}  // namespace

void* operator new(std::size_t size) {
  if (allocation_fails()) throw std::bad_alloc();
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (allocation_fails()) return nullptr;
  return std::malloc(size == 0 ? 1 : size);
}

void operator delete(void* p) noexcept {
  std::free(p);
}

void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace beanstalkd::wal {
namespace {

namespace fs = std::filesystem;

// Allocations fail from the `allowed`-th on while it lives.
class FailingAllocations {
 public:
  explicit FailingAllocations(long allowed) {
    allocations_left = allowed;
    allocations_failed = 0;
  }
  ~FailingAllocations() { allocations_left = -1; }
  // Whether any allocation has failed yet.
  static bool any_failed() { return allocations_failed > 0; }
  FailingAllocations(const FailingAllocations&) = delete;
  FailingAllocations& operator=(const FailingAllocations&) = delete;
};

struct Quiet : ReserveListener {
  void on_reserved(Job&) override {}
  void on_wait_ended(WaitEnd) override {}
};

// One server's worth of store and log.
struct Instance {
  Instance(FileSystem& file_system, WalOptions options) : wal(file_system, std::move(options)) {}
  ~Instance() {
    store.detach(worker);
    store.detach(producer);
    wal.close();
  }
  ManualClock clock;
  Store store{clock};
  Wal wal;
  Quiet listener;
  Session producer{&listener};
  Session worker{&listener};
  RecoveryReport report;
  std::string error;
};

// What a job is, as far as a restart must keep it.
struct JobImage {
  std::uint64_t id;
  JobState state;
  std::uint32_t priority;
  std::uint32_t delay_seconds;
  std::string tube;
  std::string body;
  JobCounters counts;
  bool operator==(const JobImage&) const = default;
};

std::vector<JobImage> image_of(const Store& store, bool as_recovered) {
  std::vector<JobImage> jobs;
  store.for_each_job([&](const Job* job) {
    std::string body(job->body_size, '\0');
    EXPECT_TRUE(store.copy_body(*job, body.data())) << "job " << job->id;
    JobState state = job->state;
    // A reserved job comes back ready, and counts only matter to stats-job.
    // (Delayed ones too: the test's clock moves, and recovery's reads the
    // wall's.)
    if (as_recovered && (state == JobState::Reserved || state == JobState::Delayed))
      state = JobState::Ready;
    JobCounters counts = as_recovered ? JobCounters{} : job->activity().counts;
    jobs.push_back({job->id, state, job->priority, job->delay_seconds, job->tube->name,
                    std::move(body), counts});
  });
  std::sort(jobs.begin(), jobs.end(),
            [](const JobImage& a, const JobImage& b) { return a.id < b.id; });
  return jobs;
}

std::string describe(const std::vector<JobImage>& jobs) {
  std::string out;
  for (const JobImage& j : jobs)
    out += std::to_string(j.id) + ":" + std::to_string(static_cast<int>(j.state)) + ":" +
           std::to_string(j.priority) + ":" + j.tube + ":" + std::to_string(j.body.size()) + " ";
  return out;
}

class OutOfMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Hundreds of logs open and close here; their failures still show.
    spdlog::set_level(spdlog::level::warn);
    char tmpl[] = "/tmp/wal-oom-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    fs::remove_all(root_);
    spdlog::set_level(spdlog::level::info);
  }

  static WalOptions options(const std::string& dir, SyncPolicy policy) {
    return testing::small_log_options(dir, policy);
  }

  std::unique_ptr<Instance> start(const WalOptions& o) {
    auto inst = std::make_unique<Instance>(fs_, o);
    EXPECT_TRUE(inst->wal.open(inst->store, inst->error, inst->report)) << inst->error;
    inst->store.attach(inst->producer);
    inst->store.attach(inst->worker);
    return inst;
  }

  // A put as a connection does it: the job is the caller's until put
  // takes it.

 public:
  static std::uint64_t put(Instance& inst, std::size_t body_size, std::uint32_t priority = 10,
                           std::uint32_t delay = 0) {
    Job* job = inst.store.allocate_job(static_cast<std::uint32_t>(body_size));
    if (!job) throw std::bad_alloc();
    std::memset(job->body_with_crlf(), 'a' + static_cast<char>(job->id % 26), body_size);
    std::memcpy(job->body_with_crlf() + body_size, "\r\n", 2);
    const std::uint64_t id = job->id;
    try {
      inst.store.put(inst.producer, job, priority, delay, 60);
    } catch (const std::bad_alloc&) {
      inst.store.discard_job(job);
      throw;
    }
    return id;
  }

  // The job populate() leaves reserved by the worker.
  static constexpr std::uint64_t kHeld = 2;

  // Jobs in every state, in two tubes, then jobs in a third that nobody
  // watches, up to `slack` bytes short of the first log file's reserve
  // (where the next record goes to a new file).
  static void populate(Instance& inst, std::uint64_t slack) {
    inst.store.watch(inst.worker, "other");
    for (std::uint32_t i = 0; i < 6; ++i) put(inst, 100, 10 + i);  // 1-6
    inst.store.use(inst.producer, "other");
    put(inst, 100, 5);                   // 7
    put(inst, 100, 7, 30);               // 8, delayed
    inst.store.reserve(inst.worker, 0);  // 7
    inst.store.reserve(inst.worker, 0);  // 1
    inst.store.reserve(inst.worker, 0);  // 2: kHeld
    inst.store.bury(inst.worker, 7, 3);
    inst.store.bury(inst.worker, 1, 4);
    inst.store.use(inst.producer, "filler");
    const std::uint64_t end =
        inst.wal.max_file_size() - inst.wal.max_file_size() / kDeleteReserveShare - slack;
    const std::size_t overhead = job_full_record_size(6, 0);
    while (inst.wal.disk_bytes() + overhead <= end) {
      const std::uint64_t room = end - inst.wal.disk_bytes() - overhead;
      put(inst, room <= 4000 ? room : 2000);
    }
    ASSERT_EQ(inst.wal.disk_bytes(), end);
    ASSERT_EQ(inst.wal.current_file_index(), 1u);
    inst.store.use(inst.producer, "other");
    inst.wal.flush();
  }

  // Runs `operation` on a fresh populated store with allocations failing
  // from the n-th on, for n = 0, 1, 2, ... until none fails. Each time: if
  // it threw, memory is as before it; either way, a restart recovers what
  // memory holds.
  void every_failure_point(const std::string& name, std::uint64_t slack,
                           const std::function<void(Instance&)>& operation) {
    for (long allowed = 0; allowed < 1000; ++allowed) {
      SCOPED_TRACE(name + ", allocations allowed: " + std::to_string(allowed));
      const std::string dir = root_ + "/" + name + "-" + std::to_string(allowed);
      fs::create_directory(dir);
      auto inst = start(options(dir, SyncPolicy::Always));
      populate(*inst, slack);
      const std::vector<JobImage> before = image_of(inst->store, false);
      bool threw = false;
      bool any_failed = false;
      {
        FailingAllocations failing(allowed);
        try {
          operation(*inst);
        } catch (const std::bad_alloc&) {
          threw = true;
        }
        any_failed = FailingAllocations::any_failed();
      }
      if (threw) {
        EXPECT_EQ(describe(image_of(inst->store, false)), describe(before));
        EXPECT_TRUE(image_of(inst->store, false) == before)
            << "a refused operation changed a job's counts";
      }
      expect_recovery_matches_memory(std::move(inst), dir, SyncPolicy::Always);
      if (!any_failed) return;
    }
    FAIL() << name << " never completed";
  }

  // Runs `operation` without failures, then the log's flush (its writes,
  // syncs, rotation and compaction) with allocations failing from the n-th
  // on, for each n until none fails. The log must then be healthy or
  // failed, and after its retry recover what memory holds.
  void every_failure_point_of_flush(const std::string& name, SyncPolicy policy,
                                    const std::function<void(Instance&)>& operation) {
    for (long allowed = 0; allowed < 1000; ++allowed) {
      SCOPED_TRACE(name + ", allocations allowed in flush: " + std::to_string(allowed));
      const std::string dir = root_ + "/" + name + "-" + std::to_string(allowed);
      fs::create_directory(dir);
      auto inst = start(options(dir, policy));
      populate(*inst, kAtFileEnd);
      operation(*inst);
      bool any_failed = false;
      {
        FailingAllocations failing(allowed);
        inst->wal.flush();
        any_failed = FailingAllocations::any_failed();
      }
      expect_recovery_matches_memory(std::move(inst), dir, policy);
      if (!any_failed) return;
    }
    FAIL() << name << "'s flush never completed";
  }

  // With memory back, the log catches up (a failed one at its retry, a
  // second later), and a restart recovers what memory holds.
  void expect_recovery_matches_memory(std::unique_ptr<Instance> inst, const std::string& dir,
                                      SyncPolicy policy) {
    for (int retry = 0; retry < 3 && !inst->wal.healthy(); ++retry) {
      inst->clock.advance(2 * kNanosPerSecond);
      inst->wal.on_timer();
    }
    EXPECT_TRUE(inst->wal.healthy()) << inst->wal.failure();
    inst->wal.flush();
    const std::vector<JobImage> in_memory = image_of(inst->store, true);
    inst.reset();
    auto recovered = start(options(dir, policy));
    EXPECT_EQ(describe(image_of(recovered->store, true)), describe(in_memory));
    recovered.reset();
    fs::remove_all(dir);
  }

  // Where the log stands after populate(): right at the end of the first
  // file (each operation's record starts a new one), or well inside it.
  static constexpr std::uint64_t kAtFileEnd = 0;
  static constexpr std::uint64_t kInsideFile = 20000;

  std::string root_;
  testing::FaultInjectionFs fs_;
};

class Operation : public OutOfMemoryTest, public ::testing::WithParamInterface<std::uint64_t> {};

TEST_P(Operation, PutReady) {
  every_failure_point("put", GetParam(), [](Instance& inst) { put(inst, 100, 1); });
}

TEST_P(Operation, PutDelayed) {
  every_failure_point("put-delayed", GetParam(), [](Instance& inst) { put(inst, 100, 1, 20); });
}

TEST_P(Operation, PutLargeBody) {
  // Written in two steps (a PlacedRecord), in a chunk of its own.
  every_failure_point("put-large", GetParam(), [](Instance& inst) { put(inst, 1 << 20, 1); });
}

TEST_P(Operation, Reserve) {
  every_failure_point("reserve", GetParam(),
                      [](Instance& inst) { inst.store.reserve(inst.worker, 0); });
}

TEST_P(Operation, ReserveById) {
  every_failure_point("reserve-by-id", GetParam(),
                      [](Instance& inst) { inst.store.reserve_job(inst.worker, 1); });
}

TEST_P(Operation, Release) {
  every_failure_point("release", GetParam(),
                      [](Instance& inst) { inst.store.release(inst.worker, kHeld, 1, 0); });
}

TEST_P(Operation, ReleaseDelayed) {
  every_failure_point("release-delayed", GetParam(),
                      [](Instance& inst) { inst.store.release(inst.worker, kHeld, 1, 20); });
}

TEST_P(Operation, Bury) {
  every_failure_point("bury", GetParam(),
                      [](Instance& inst) { inst.store.bury(inst.worker, kHeld, 1); });
}

TEST_P(Operation, Kick) {
  // The producer uses "other": one buried job there (and one delayed).
  every_failure_point("kick", GetParam(),
                      [](Instance& inst) { inst.store.kick(inst.producer, 10); });
}

TEST_P(Operation, KickJob) {
  every_failure_point("kick-job", GetParam(), [](Instance& inst) { inst.store.kick_job(1); });
}

TEST_P(Operation, DeleteHeld) {
  every_failure_point("delete-held", GetParam(),
                      [](Instance& inst) { inst.store.delete_job(inst.worker, kHeld); });
}

TEST_P(Operation, DeleteReady) {
  every_failure_point("delete-ready", GetParam(),
                      [](Instance& inst) { inst.store.delete_job(inst.worker, 3); });
}

TEST_P(Operation, TimeoutLeavesOnlyCountsUnrecorded) {
  // Timeouts run off the timer, with nobody to refuse: they happen, and a
  // log without memory leaves their record (counters only) out.
  for (long allowed = 0; allowed < 40; ++allowed) {
    SCOPED_TRACE("allocations allowed: " + std::to_string(allowed));
    const std::string dir = root_ + "/timeout-" + std::to_string(allowed);
    fs::create_directory(dir);
    auto inst = start(options(dir, SyncPolicy::Always));
    populate(*inst, GetParam());
    inst->clock.advance(61 * kNanosPerSecond);
    {
      FailingAllocations failing(allowed);
      inst->store.process_timers();
    }
    const Job* held = inst->store.find_job(kHeld);
    ASSERT_NE(held, nullptr);
    EXPECT_EQ(held->state, JobState::Ready);
    expect_recovery_matches_memory(std::move(inst), dir, SyncPolicy::Always);
  }
}

INSTANTIATE_TEST_SUITE_P(LogPosition, Operation,
                         ::testing::Values(OutOfMemoryTest::kAtFileEnd,
                                           OutOfMemoryTest::kInsideFile),
                         [](const ::testing::TestParamInfo<std::uint64_t>& param) {
                           return param.param == OutOfMemoryTest::kAtFileEnd ? "AtFileEnd"
                                                                             : "InsideFile";
                         });

// The log's writing: every failure point of a flush, under each sync policy,
// after changes that start a new file (and so compact the oldest).
class Flush : public OutOfMemoryTest, public ::testing::WithParamInterface<SyncPolicy> {};

TEST_P(Flush, FailsLikeAWriteAndCatchesUp) {
  every_failure_point_of_flush("flush", GetParam(), [](Instance& inst) {
    put(inst, 100, 1);
    put(inst, 1 << 20, 2);  // a placed record
    inst.store.delete_job(inst.worker, 3);
    inst.store.release(inst.worker, kHeld, 1, 20);
  });
}

// Leaves the first log file mostly dead and the log large enough to compact
// it, with compaction due at the next flush.
void make_compaction_due(Instance& inst) {
  for (std::uint64_t id = 9; id <= inst.store.last_job_id(); ++id)
    inst.store.delete_job(inst.worker, id);
  for (int i = 0; i < 80; ++i) inst.store.delete_job(inst.worker, OutOfMemoryTest::put(inst, 2000));
  inst.wal.flush();
  // Into yet another file, which makes compaction due.
  for (int i = 0; i < 30; ++i) inst.store.delete_job(inst.worker, OutOfMemoryTest::put(inst, 2000));
}

TEST_P(Flush, CompactionWithoutMemoryWaitsForTheNextTurn) {
  every_failure_point_of_flush("compaction", GetParam(), make_compaction_due);
}

TEST_P(Flush, CompactionRunsThere) {
  const std::string dir = root_ + "/compacts";
  fs::create_directory(dir);
  auto inst = start(options(dir, GetParam()));
  populate(*inst, kAtFileEnd);
  make_compaction_due(*inst);
  EXPECT_EQ(inst->wal.stats().records_migrated, 0u);
  inst->wal.flush();
  EXPECT_EQ(inst->wal.stats().records_migrated, 8u);  // the first eight jobs
  expect_recovery_matches_memory(std::move(inst), dir, GetParam());
}

// A failed sync sends every record since the last good one back to be
// written again (the kernel may have dropped those pages): when memory runs
// out in the middle of that, the retry must still write them all again.
TEST_F(OutOfMemoryTest, AFailedSyncWithoutMemoryStillWritesEverythingAgain) {
  // Chunks written over 1 to 12 turns within one sync interval await the
  // next sync, which fails, and one is still to be written, which the
  // written ones go back in front of (at some count, that needs memory).
  for (int turns = 1; turns <= 12; ++turns) {
    for (long allowed = 0; allowed < 1000; ++allowed) {
      SCOPED_TRACE(std::to_string(turns) +
                   " turns, allocations allowed: " + std::to_string(allowed));
      const std::string dir =
          root_ + "/failed-sync-" + std::to_string(turns) + "-" + std::to_string(allowed);
      fs::create_directory(dir);
      auto inst = start(options(dir, SyncPolicy::Interval));
      populate(*inst, kInsideFile);
      for (int i = 0; i < turns; ++i) {
        put(*inst, 100, 1);
        inst->wal.flush();
      }
      put(*inst, 100, 1);
      fs_.fail_all_syncs = EIO;
      inst->clock.advance(kNanosPerSecond);
      const int syncs_before = fs_.syncs;
      bool any_failed = false;
      {
        FailingAllocations failing(allowed);
        inst->wal.on_timer();  // the interval's sync
        any_failed = FailingAllocations::any_failed();
      }
      EXPECT_FALSE(inst->wal.healthy());
      fs_.fail_all_syncs = 0;
      // The kernel may drop what a failed sync covered (and only then: with
      // no memory to start it, the sync never ran).
      if (fs_.syncs > syncs_before) fs_.power_loss();
      expect_recovery_matches_memory(std::move(inst), dir, SyncPolicy::Interval);
      if (!any_failed) break;
    }
  }
}

// Obsolete files go to the sync thread to be removed. Running out of memory
// on the way must leave them doomed, for a later turn to hand over, rather
// than forgotten on the disk until the next start.
TEST_F(OutOfMemoryTest, ObsoleteFilesAreRemovedThoughMemoryRanOutOnTheWay) {
  for (long allowed = 0; allowed < 1000; ++allowed) {
    SCOPED_TRACE("allocations allowed: " + std::to_string(allowed));
    const std::string dir = root_ + "/obsolete-" + std::to_string(allowed);
    fs::create_directory(dir);
    WalOptions o = options(dir, SyncPolicy::Always);
    o.file_size = 8192;
    o.background_sync = true;
    auto inst = start(o);
    // The loop's part of the sync thread's work: its reports, and the
    // flushes and retries that follow them.
    auto turns = [&](int n) {
      for (int i = 0; i < n; ++i) {
        pollfd p{inst->wal.sync_event_fd(), POLLIN, 0};
        ::poll(&p, 1, 10);
        inst->wal.on_sync_done();
        inst->clock.advance(kNanosPerSecond);
        inst->wal.on_timer();
        inst->wal.flush();
      }
    };
    std::vector<std::uint64_t> in_first_file;
    for (;;) {
      const std::uint64_t id = put(*inst, 1000);
      inst->wal.flush();
      if (inst->wal.current_file_index() > 1) break;
      in_first_file.push_back(id);
    }
    turns(3);
    for (std::uint64_t id : in_first_file) ASSERT_TRUE(inst->store.delete_job(inst->worker, id));
    const std::string first_file = dir + "/" + Wal::file_name(1);
    ASSERT_TRUE(fs::exists(first_file));

    bool any_failed = false;
    {
      FailingAllocations failing(allowed);
      inst->wal.flush();  // the deletes, which make the first file obsolete once synced
      turns(5);
      any_failed = FailingAllocations::any_failed();
    }
    for (int i = 0; i < 50 && fs::exists(first_file); ++i) turns(1);
    EXPECT_FALSE(fs::exists(first_file)) << "an obsolete file was left on the disk";
    EXPECT_TRUE(inst->wal.healthy()) << inst->wal.failure();
    inst.reset();
    fs::remove_all(dir);
    if (!any_failed) return;
  }
  FAIL() << "the removal never completed";
}

INSTANTIATE_TEST_SUITE_P(Policy, Flush,
                         ::testing::Values(SyncPolicy::Always, SyncPolicy::Interval,
                                           SyncPolicy::Never),
                         [](const ::testing::TestParamInfo<SyncPolicy>& param) {
                           switch (param.param) {
                             case SyncPolicy::Always:
                               return "Always";
                             case SyncPolicy::Interval:
                               return "Interval";
                             case SyncPolicy::Never:
                               break;
                           }
                           return "Never";
                         });

}  // namespace
}  // namespace beanstalkd::wal
