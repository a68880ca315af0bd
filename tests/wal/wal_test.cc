// The write-ahead log against a real temporary directory, with faults
// injected through FaultInjectionFs.
#include "beanstalkd/wal/wal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "beanstalkd/store.h"
#include "beanstalkd/wal/check.h"
#include "beanstalkd/wal/file_sequence.h"
#include "fault_injection_fs.h"
#include "small_log_options.h"

namespace beanstalkd::wal {
namespace {

namespace fs = std::filesystem;
using testing::FaultInjectionFs;

struct Recorder : ReserveListener {
  Job* last = nullptr;
  int waits_ended = 0;
  void on_reserved(Job& job) override { last = &job; }
  void on_wait_ended(WaitEnd) override { ++waits_ended; }
};

// A job's body wherever it is: recovered jobs leave theirs in the log.
std::string body_of(const Store& store, const Job& job) {
  std::string body(job.body_size, '\0');
  EXPECT_TRUE(store.copy_body(job, body.data())) << "job " << job.id;
  return body;
}

// One server's worth of store and log.
struct Instance {
  Instance(FileSystem& file_system, WalOptions options) : wal(file_system, std::move(options)) {}
  ~Instance() {
    store.detach(session);
    wal.close();
  }
  ManualClock clock;
  Store store{clock};
  Wal wal;
  Recorder listener;
  Session session{&listener};
  RecoveryReport report;
  std::string error;
};

class WalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wal-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  WalOptions options(SyncPolicy policy = SyncPolicy::Always) {
    return testing::small_log_options(dir_, policy);
  }

  // With the sync thread a server runs.
  WalOptions threaded_options(std::uint64_t file_size, SyncPolicy policy = SyncPolicy::Always) {
    WalOptions o = options(policy);
    o.file_size = file_size;
    o.background_sync = true;
    return o;
  }

  std::unique_ptr<Instance> start(WalOptions o) { return start_on(fs_, std::move(o)); }
  // On the real disk, for what the fault-injecting one leaves out
  // (preallocation).
  std::unique_ptr<Instance> start_on(FileSystem& file_system, WalOptions o) {
    auto inst = std::make_unique<Instance>(file_system, std::move(o));
    EXPECT_TRUE(inst->wal.open(inst->store, inst->error, inst->report)) << inst->error;
    inst->store.attach(inst->session);
    return inst;
  }
  std::unique_ptr<Instance> start() { return start(options()); }

  static std::uint64_t put(Instance& inst, std::string_view body, std::uint32_t pri = 10,
                           std::uint32_t delay = 0, std::string_view tube = "default") {
    inst.store.use(inst.session, tube);
    Job* job = inst.store.allocate_job(static_cast<std::uint32_t>(body.size()));
    std::memcpy(job->body_with_crlf(), body.data(), body.size());
    std::memcpy(job->body_with_crlf() + body.size(), "\r\n", 2);
    std::uint64_t id = job->id;
    inst.store.put(inst.session, job, pri, delay, 60);
    return id;
  }

  std::vector<std::string> wal_files() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string read(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream out(path(name), std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  // Makes every file creation fail (a disk with no room for the next file)
  // and puts small jobs, one a turn, until the log is full; returns their ids.
  std::vector<std::uint64_t> fill_until_full(Instance& inst) {
    fs_.fail_all_creates = ENOSPC;
    std::vector<std::uint64_t> ids;
    while (inst.wal.healthy() && ids.size() < 1000) {
      ids.push_back(put(inst, std::string(16, 'x')));
      inst.wal.flush();
    }
    return ids;
  }

  // A power failure: what no sync covered is lost, and `inst` can no longer
  // write or sync (its destructor would); end_crash() once it is gone.
  void crash(Instance& inst) {
    fs_.power_loss();
    inst.store.set_journal(nullptr);
    inst.store.detach(inst.session);
    fs_.fail_all_syncs = EIO;
    fs_.fail_all_appends = EIO;
  }
  void end_crash() {
    fs_.fail_all_syncs = 0;
    fs_.fail_all_appends = 0;
  }

  std::string dir_;
  FaultInjectionFs fs_;
  PosixFileSystem posix_;
};

TEST_F(WalTest, EveryStateAndCounterSurvivesARestart) {
  {
    auto a = start();
    std::uint64_t ready = put(*a, "ready", 5);
    std::uint64_t delayed = put(*a, "delayed", 6, 100);
    std::uint64_t buried1 = put(*a, "buried-first", 7);
    std::uint64_t buried2 = put(*a, "buried-second", 8, 0, "other");
    std::uint64_t reserved = put(*a, "reserved", 9);
    std::uint64_t released = put(*a, "released", 1);
    // released: reserve it and release it with a new priority.
    a->store.use(a->session, "default");
    ASSERT_TRUE(a->store.reserve_job(a->session, released));
    ASSERT_TRUE(a->store.release(a->session, released, 77, 0));
    ASSERT_TRUE(a->store.reserve_job(a->session, buried1));
    ASSERT_TRUE(a->store.bury(a->session, buried1, 70));
    ASSERT_TRUE(a->store.reserve_job(a->session, buried2));
    ASSERT_TRUE(a->store.bury(a->session, buried2, 80));
    ASSERT_TRUE(a->store.reserve_job(a->session, reserved));
    a->wal.flush();
    EXPECT_EQ(ready, 1u);
    EXPECT_EQ(delayed, 2u);
  }
  auto b = start();
  EXPECT_EQ(b->report.jobs, 6u);
  EXPECT_EQ(b->store.job_counts().ready, 3u);  // ready, released, reserved-comes-back-ready
  EXPECT_EQ(b->store.job_counts().delayed, 1u);
  EXPECT_EQ(b->store.job_counts().buried, 2u);

  // A job nothing was done to comes back without an activity.
  ASSERT_NE(b->store.find_job(1), nullptr);
  EXPECT_FALSE(b->store.find_job(1)->has_activity());

  Job* released = b->store.find_job(6);
  ASSERT_NE(released, nullptr);
  EXPECT_EQ(released->priority, 77u);
  EXPECT_EQ(released->activity().counts.reserves, 1u);
  EXPECT_EQ(released->activity().counts.releases, 1u);

  Job* delayed = b->store.find_job(2);
  ASSERT_NE(delayed, nullptr);
  EXPECT_EQ(delayed->state, JobState::Delayed);
  EXPECT_EQ(delayed->delay_seconds, 100u);
  Nanos left = delayed->activity().deadline_at - b->clock.now();
  EXPECT_GT(left, 98 * kNanosPerSecond);
  EXPECT_LE(left, 100 * kNanosPerSecond);

  Job* reserved = b->store.find_job(5);
  ASSERT_NE(reserved, nullptr);
  EXPECT_EQ(reserved->state, JobState::Ready);
  EXPECT_EQ(reserved->activity().counts.reserves, 1u);
  EXPECT_EQ(reserved->activity().counts.timeouts, 0u);  // a restart is not a timeout

  Job* b1 = b->store.find_job(3);
  ASSERT_NE(b1, nullptr);
  EXPECT_EQ(b1->priority, 70u);
  EXPECT_EQ(b1->activity().counts.buries, 1u);
  EXPECT_EQ(body_of(b->store, *b1), "buried-first");
  Tube* other = b->store.find_tube("other");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->buried.top()->id, 4u);
}

TEST_F(WalTest, BuriedJobsComeBackInBurialOrder) {
  {
    auto a = start();
    for (int i = 0; i < 5; ++i) put(*a, "job");
    // Bury in the order 4, 2, 5, 1, 3.
    for (std::uint64_t id : {4u, 2u, 5u, 1u, 3u}) {
      ASSERT_TRUE(a->store.reserve_job(a->session, id));
      ASSERT_TRUE(a->store.bury(a->session, id, 0));
    }
    a->wal.flush();
  }
  auto b = start();
  // peek-buried and kick see them oldest burial first.
  std::vector<std::uint64_t> order;
  while (Job* j = b->store.peek_buried(b->session)) {
    order.push_back(j->id);
    ASSERT_EQ(b->store.kick(b->session, 1), 1u);
  }
  EXPECT_EQ(order, (std::vector<std::uint64_t>{4, 2, 5, 1, 3}));
}

TEST_F(WalTest, IdsContinueAfterEveryJobWasDeleted) {
  {
    auto a = start();
    for (int i = 0; i < 3; ++i) put(*a, "x");
    for (std::uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(a->store.delete_job(a->session, id));
    a->wal.flush();
  }
  { auto b = start(); }  // an empty restart in between must not lose the id either
  auto c = start();
  EXPECT_EQ(c->report.jobs, 0u);
  EXPECT_EQ(put(*c, "next"), 4u);
}

TEST_F(WalTest, ASecondServerOnTheSameDirectoryIsRefused) {
  auto a = start();
  Instance second(fs_, options());
  EXPECT_FALSE(second.wal.open(second.store, second.error, second.report));
  EXPECT_NE(second.error.find("in use by another server"), std::string::npos) << second.error;
}

// The reference server locks its directory with a POSIX record lock
// (fcntl), which Linux keeps apart from flock: a directory it is writing
// must be refused too, not replayed and its binlog moved away. Such a lock
// belongs to a process, so another one takes it here.
TEST_F(WalTest, ADirectoryTheReferenceServerHoldsIsRefused) {
  int ready[2];
  int done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  const std::string lock_path = dir_ + "/lock";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT, 0640);
    struct flock whole_file {};
    whole_file.l_type = F_WRLCK;
    whole_file.l_whence = SEEK_SET;
    const char ok = fd >= 0 && fcntl(fd, F_SETLK, &whole_file) == 0 ? 'y' : 'n';
    (void)!::write(ready[1], &ok, 1);
    char c;
    (void)!::read(done[0], &c, 1);  // hold the lock until the parent is done
    _exit(0);
  }
  char ok = 'n';
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y');
  Instance second(fs_, options());
  EXPECT_FALSE(second.wal.open(second.store, second.error, second.report));
  EXPECT_NE(second.error.find("in use by another server"), std::string::npos) << second.error;
  ASSERT_EQ(::write(done[1], "x", 1), 1);
  int status = 0;
  waitpid(child, &status, 0);
  for (int fd : {ready[0], ready[1], done[0], done[1]}) ::close(fd);
  // Once the other server is gone the directory is ours.
  Instance third(fs_, options());
  EXPECT_TRUE(third.wal.open(third.store, third.error, third.report)) << third.error;
}

TEST_F(WalTest, TornTailAtEveryOffsetOfTheLastRecordIsCutQuietly) {
  {
    auto a = start();
    put(*a, "first");
    put(*a, "second");
    put(*a, "the-last-record-body");
    a->wal.flush();
  }
  const std::string name = wal_files()[0] == "lock" ? wal_files()[1] : wal_files()[0];
  const std::string whole = read(name);
  const std::size_t last_size = job_full_record_size(7, 20);
  // Find the end of the used part: the file is not preallocated here.
  const std::size_t end = whole.size();
  const std::size_t last_start = end - last_size;
  for (std::size_t cut = last_start + 1; cut < end; ++cut) {
    fs::remove_all(dir_);
    fs::create_directory(dir_);
    write(name, whole.substr(0, cut));
    auto b = start();
    ASSERT_EQ(b->report.jobs, 2u) << "cut at " << cut;
    EXPECT_EQ(b->report.torn_tails, 1u) << "cut at " << cut;
    EXPECT_EQ(b->report.damaged_files, 0u) << "cut at " << cut;
    EXPECT_EQ(fs::file_size(path(name)), last_start) << "cut at " << cut;
  }
}

TEST_F(WalTest, AFlippedByteInTheMiddleIsReportedAndEveryIntactRecordRecovered) {
  {
    auto a = start();
    put(*a, "one, long enough to stay in the log");
    put(*a, "two-damaged");
    put(*a, "three, long enough to stay in the log");
    a->wal.flush();
  }
  const std::string name = "wal.0000000001";
  std::string bytes = read(name);
  std::size_t at = bytes.find("two-damaged");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 3] ^= 0x55;
  write(name, bytes);
  {
    auto b = start();
    EXPECT_EQ(b->report.damaged_files, 1u);
    EXPECT_EQ(b->report.jobs, 2u);
    EXPECT_NE(b->store.find_job(1), nullptr);
    EXPECT_EQ(b->store.find_job(2), nullptr);
    ASSERT_NE(b->store.find_job(3), nullptr);
    // Their bodies were read from the damaged file into the new one before
    // it was renamed, and are read back from there.
    EXPECT_EQ(body_of(b->store, *b->store.find_job(1)), "one, long enough to stay in the log");
    EXPECT_EQ(body_of(b->store, *b->store.find_job(3)), "three, long enough to stay in the log");
  }
  // The damaged file is kept, renamed, and no longer needed: it is set
  // aside, not missing.
  EXPECT_TRUE(fs::exists(path(name + ".damaged")));
  auto c = start();
  EXPECT_EQ(c->report.damaged_files, 0u);
  EXPECT_EQ(c->report.missing_files, 0u);
  EXPECT_EQ(c->report.jobs, 2u);
  EXPECT_EQ(body_of(c->store, *c->store.find_job(3)), "three, long enough to stay in the log");
  EXPECT_EQ(put(*c, "four"), 4u);
}

// Recovery rewrites every job after damage, which leaves every old file
// obsolete; when that rewrite spans several new files the old ones are
// collected as it goes. A damaged one must still end up renamed, never
// deleted with the obsolete ones.
TEST_F(WalTest, ADamagedFileIsKeptEvenWhenTheRewriteSpansSeveralFiles) {
  WalOptions small = options();
  small.file_size = 8 * 1024;
  const std::string body(300, 'b');
  {
    auto a = start(small);
    for (int i = 0; i < 80; ++i) put(*a, body + std::to_string(i));
    a->wal.flush();
  }
  ASSERT_GE(wal_files().size(), 3u);
  const std::string name = "wal.0000000001";
  std::string bytes = read(name);
  bytes[bytes.size() / 2] ^= 0x55;
  write(name, bytes);
  {
    auto b = start(small);
    EXPECT_EQ(b->report.damaged_files, 1u);
    EXPECT_GE(b->report.jobs, 75u);
  }
  EXPECT_TRUE(fs::exists(path(name + ".damaged")));
  EXPECT_EQ(read(name + ".damaged"), bytes);
}

// A file's header repeats the index of its name. A copy of an old file
// under a newer name would otherwise be replayed last and bring back jobs
// deleted since; it is kept aside as damaged instead.
TEST_F(WalTest, AFileUnderAnotherFilesNameIsNotReplayed) {
  {
    auto a = start();
    for (int i = 0; i < 3; ++i) put(*a, "a job long enough to stay in the log");
    a->wal.flush();
  }
  {
    auto b = start();
    ASSERT_TRUE(b->store.delete_job(b->session, 2));
    b->wal.flush();
  }
  std::vector<std::string> names = wal_files();
  names.erase(std::remove(names.begin(), names.end(), "lock"), names.end());
  ASSERT_GE(names.size(), 2u);
  const std::string copy = Wal::file_name(Wal::parse_file_name(names.back()) + 1);
  write(copy, read(names.front()));
  std::ostringstream before;
  EXPECT_EQ(check_wal_directory(dir_, before), 1);
  EXPECT_NE(before.str().find("copied or renamed"), std::string::npos) << before.str();
  {
    auto c = start();
    EXPECT_EQ(c->report.damaged_files, 1u);
    EXPECT_EQ(c->report.jobs, 2u);
    EXPECT_EQ(c->store.find_job(2), nullptr);
  }
  EXPECT_TRUE(fs::exists(path(copy + ".damaged")));
  std::ostringstream after;
  EXPECT_EQ(check_wal_directory(dir_, after), 0) << after.str();
}

TEST_F(WalTest, AFileWithTheWrongVersionIsKeptAndTheRestRecovered) {
  {
    auto a = start();
    put(*a, "kept");
    a->wal.flush();
  }
  // A second file with a future version number.
  std::string future(kMagic);
  future += std::string("\x09\0\0\0\0\0\0\0", 8);
  future += std::string(16, '\0');
  write("wal.0000000003", future);
  auto b = start();
  EXPECT_EQ(b->report.damaged_files, 1u);
  EXPECT_EQ(b->report.jobs, 1u);
  EXPECT_TRUE(fs::exists(path("wal.0000000003.damaged")));
}

// Before a file with records, an empty file is damage: kept, renamed.
// --check-wal reads a directory without changing it and says what a start
// would recover, or DAMAGED (exit status 1).
TEST_F(WalTest, TheOfflineCheckReportsJobsAndDamage) {
  {
    auto a = start();
    put(*a, "first job, long enough to stay in the log");
    put(*a, "second");
    a->wal.flush();
  }
  std::ostringstream good;
  EXPECT_EQ(check_wal_directory(dir_, good), 0);
  EXPECT_NE(good.str().find("would recover 2 jobs (2 ready"), std::string::npos) << good.str();
  EXPECT_NE(good.str().find("\nOK\n"), std::string::npos) << good.str();
  const std::string name = wal_files().back();
  std::string bytes = read(name);
  bytes[bytes.find("first job") + 3] ^= 0x20;
  bytes += "trailing junk that is not a record";
  write(name, bytes);
  std::ostringstream bad;
  EXPECT_EQ(check_wal_directory(dir_, bad), 1);
  EXPECT_NE(bad.str().find("would recover 1 jobs"), std::string::npos) << bad.str();
  EXPECT_NE(bad.str().find("DAMAGED"), std::string::npos) << bad.str();
}

TEST_F(WalTest, AnEmptyFileBeforeTheLastIsKeptAsDamaged) {
  for (const char* body : {"lost", "kept"}) {
    auto a = start();
    put(*a, body);
    a->wal.flush();
  }
  ASSERT_EQ(wal_files(), (std::vector<std::string>{"lock", "wal.0000000001", "wal.0000000002"}));
  write("wal.0000000001", "");
  auto b = start();
  EXPECT_EQ(b->report.damaged_files, 1u);
  EXPECT_EQ(b->report.jobs, 1u);
  EXPECT_TRUE(fs::exists(path("wal.0000000001.damaged")));
}

// The newest files empty or zero-filled: files created just before a crash
// (their creation becomes durable with their first records' sync). They
// held nothing; they go quietly and the numbering goes on from the last
// file with records.
TEST_F(WalTest, EmptyOrZeroFilledNewestFilesAreRemovedQuietly) {
  {
    auto a = start();
    put(*a, "kept");
    a->wal.flush();
  }
  ASSERT_EQ(wal_files(), (std::vector<std::string>{"lock", "wal.0000000001"}));
  write("wal.0000000002", std::string(4096, '\0'));
  write("wal.0000000003", "");
  auto b = start();
  EXPECT_EQ(b->report.damaged_files, 0u);
  EXPECT_EQ(b->report.jobs, 1u);
  EXPECT_EQ(wal_files(), (std::vector<std::string>{"lock", "wal.0000000001", "wal.0000000002"}));
  EXPECT_EQ(read("wal.0000000002").substr(0, kMagic.size()), kMagic);  // a new file, with a header
}

TEST_F(WalTest, AMissingFileInTheSequenceLosesOnlyWhatWasInIt) {
  WalOptions o = options();
  o.file_size = 4096;
  {
    auto a = start(o);
    // Bodies of 1000 bytes: three or so per file.
    for (int i = 0; i < 12; ++i) put(*a, std::string(1000, static_cast<char>('a' + i)));
    a->wal.flush();
  }
  fs::remove(path("wal.0000000002"));
  auto b = start(o);
  EXPECT_GT(b->report.jobs, 6u);
  EXPECT_LT(b->report.jobs, 12u);
  EXPECT_NE(b->store.find_job(1), nullptr);
  EXPECT_NE(b->store.find_job(12), nullptr);
  EXPECT_EQ(put(*b, "next"), 13u);
}

TEST_F(WalTest, AWriteFailureIsStickyUntilARetrySucceeds) {
  auto a = start();
  fs_.fail_next_append = EIO;
  put(*a, "survives");
  a->wal.flush();
  EXPECT_FALSE(a->wal.healthy());
  EXPECT_NE(a->wal.failure().find("Input/output error"), std::string::npos);
  EXPECT_LT(a->wal.durable_sequence(), a->wal.appended_sequence());
  // Nothing happens before the retry time.
  a->wal.on_timer();
  EXPECT_FALSE(a->wal.healthy());
  a->clock.advance(kNanosPerSecond);
  EXPECT_EQ(a->wal.next_deadline(), a->clock.now());
  a->wal.on_timer();
  EXPECT_TRUE(a->wal.healthy());
  EXPECT_EQ(a->wal.durable_sequence(), a->wal.appended_sequence());
  a.reset();
  fs_.power_loss();
  auto b = start();
  ASSERT_NE(b->store.find_job(1), nullptr);
  EXPECT_EQ(body_of(b->store, *b->store.find_job(1)), "survives");
  EXPECT_EQ(b->report.damaged_files, 0u);
}

// Captures what the process logs while in scope.
class LogCapture {
 public:
  LogCapture()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)),
        previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::size_t count(const std::string& text) const {
    const auto lines = sink_->last_formatted();
    return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const auto& l) {
      return l.find(text) != std::string::npos;
    }));
  }
  std::string all() const {
    std::string out;
    for (const auto& l : sink_->last_formatted()) out += l;
    return out;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(WalTest, ALastingFailureIsLoggedOnceThenOnceAMinute) {
  auto a = start();
  LogCapture logs;
  fs_.fail_all_appends = ENOSPC;
  put(*a, "waits for space");
  a->wal.flush();
  ASSERT_FALSE(a->wal.healthy());
  // 130 retries, one a second, all failing the same way.
  for (int i = 0; i < 130; ++i) {
    a->clock.advance(kNanosPerSecond);
    a->wal.on_timer();
  }
  EXPECT_FALSE(a->wal.healthy());
  EXPECT_EQ(logs.count("write-ahead log failed writing"), 1u) << logs.all();
  EXPECT_EQ(logs.count("still failing after 60 s (60 retries)"), 1u) << logs.all();
  EXPECT_EQ(logs.count("still failing after 120 s (120 retries)"), 1u) << logs.all();
  EXPECT_EQ(logs.count("still failing"), 2u) << logs.all();
  // A different failure is news: logged at once.
  fs_.fail_all_appends = EIO;
  a->clock.advance(kNanosPerSecond);
  a->wal.on_timer();
  EXPECT_EQ(logs.count("Input/output error"), 1u) << logs.all();
  fs_.fail_all_appends = 0;
  a->clock.advance(kNanosPerSecond);
  a->wal.on_timer();
  EXPECT_TRUE(a->wal.healthy());
  EXPECT_EQ(logs.count("writable again after 132.0 s (132 retries)"), 1u) << logs.all();
  // A later failure is a new episode with its own first line.
  fs_.fail_next_append = ENOSPC;
  put(*a, "second episode");
  a->wal.flush();
  EXPECT_EQ(logs.count("write-ahead log failed writing"), 2u) << logs.all();
}

// A failure while the server starts ends the start with one clear error:
// not the running server's "refusing changes and retrying" line first.
TEST_F(WalTest, AFullDiskAtTheStartIsOneClearError) {
  LogCapture logs;
  fs_.fail_next_create = ENOSPC;
  Instance refused(fs_, options());
  EXPECT_FALSE(refused.wal.open(refused.store, refused.error, refused.report));
  EXPECT_NE(refused.error.find("No space left on device"), std::string::npos) << refused.error;
  EXPECT_NE(refused.error.find("each log file takes its full size, -s 65536 bytes"),
            std::string::npos)
      << refused.error;
  EXPECT_EQ(logs.count("retrying"), 0u) << logs.all();
}

TEST_F(WalTest, AFailedSyncRewritesEverythingSinceTheLastGoodSync) {
  auto a = start();
  put(*a, "before");
  a->wal.flush();
  fs_.fail_next_sync = EIO;
  put(*a, "during");
  a->wal.flush();
  EXPECT_FALSE(a->wal.healthy());
  // The kernel may have dropped the pages: power loss now keeps only "before".
  fs_.power_loss();
  a->clock.advance(kNanosPerSecond);
  a->wal.on_timer();
  ASSERT_TRUE(a->wal.healthy());
  // The rewritten records count once: closed (a record too big for the rest
  // of the file starts the next), the file ends with them, and the sizes the
  // log weighs for compaction are those on disk.
  put(*a, std::string(70 * 1024, 'x'));
  a->wal.flush();
  EXPECT_EQ(read("wal.0000000001").back(), 'g');  // "during", not zeros
  EXPECT_EQ(a->wal.disk_bytes(),
            fs::file_size(path("wal.0000000001")) + fs::file_size(path("wal.0000000002")));
  a.reset();
  fs_.power_loss();
  auto b = start();
  EXPECT_EQ(b->report.jobs, 3u);
  ASSERT_NE(b->store.find_job(2), nullptr);
  EXPECT_EQ(body_of(b->store, *b->store.find_job(2)), "during");
}

// A new job's body lives only in its record: while a failed write or sync
// keeps that record out of the file, it is read back from the record
// waiting for the retry.
TEST_F(WalTest, ANewBodyIsReadBackThroughFailedWritesAndSyncs) {
  auto a = start();
  const std::string written_late(100, 'w');
  const std::string synced_late(100, 's');
  fs_.fail_next_append = EIO;
  const std::uint64_t one = put(*a, written_late);
  a->wal.flush();
  ASSERT_FALSE(a->wal.healthy());
  ASSERT_TRUE(a->store.find_job(one)->body_in_log);
  EXPECT_EQ(body_of(a->store, *a->store.find_job(one)), written_late);
  a->clock.advance(kNanosPerSecond);
  a->wal.on_timer();
  ASSERT_TRUE(a->wal.healthy());
  EXPECT_EQ(body_of(a->store, *a->store.find_job(one)), written_late);

  fs_.fail_next_sync = EIO;
  const std::uint64_t two = put(*a, synced_late);
  a->wal.flush();
  ASSERT_FALSE(a->wal.healthy());
  fs_.power_loss();  // the file is cut back to the last good sync
  EXPECT_EQ(body_of(a->store, *a->store.find_job(two)), synced_late);
  EXPECT_EQ(body_of(a->store, *a->store.find_job(one)), written_late);
  a->clock.advance(kNanosPerSecond);
  a->wal.on_timer();
  ASSERT_TRUE(a->wal.healthy());
  EXPECT_EQ(body_of(a->store, *a->store.find_job(two)), synced_late);
  EXPECT_EQ(a->wal.stats().body_read_failures, 0u);
  a.reset();
  fs_.power_loss();
  auto b = start();
  ASSERT_EQ(b->report.jobs, 2u);
  EXPECT_EQ(body_of(b->store, *b->store.find_job(one)), written_late);
  EXPECT_EQ(body_of(b->store, *b->store.find_job(two)), synced_late);
}

TEST_F(WalTest, AFullDiskWhenStartingAFileRecoversWhenSpaceReturns) {
  WalOptions o = options();
  o.file_size = 4096;
  auto a = start(o);
  fs_.fail_all_creates = ENOSPC;
  for (int i = 0; i < 8; ++i) put(*a, std::string(1000, 'x'));
  a->wal.flush();
  EXPECT_FALSE(a->wal.healthy());
  EXPECT_NE(a->wal.failure().find("No space left"), std::string::npos);
  a->clock.advance(kNanosPerSecond);
  a->wal.on_timer();
  EXPECT_FALSE(a->wal.healthy());  // still full
  fs_.fail_all_creates = 0;
  a->clock.advance(kNanosPerSecond);
  a->wal.on_timer();
  EXPECT_TRUE(a->wal.healthy());
  a.reset();
  fs_.power_loss();
  auto b = start(o);
  EXPECT_EQ(b->report.jobs, 8u);
}

// A full log leaves reserves out (their records only count), so a reserve
// must not try to create the next file either: one attempt per reserve
// would be a failing system call per command for as long as the disk is
// full. Only the retry, once a second, tries.
TEST_F(WalTest, AFullLogLeavesReservesOutWithoutTryingToCreateAFile) {
  WalOptions o = options();
  o.file_size = 8192;
  auto a = start(o);
  const std::vector<std::uint64_t> ids = fill_until_full(*a);
  ASSERT_FALSE(a->wal.healthy());
  // Deletes use up the file's reserve: any record now needs the next file.
  std::size_t deleted = 0;
  while (a->wal.accepts_deletes() && deleted < ids.size()) {
    ASSERT_TRUE(a->store.delete_job(a->session, ids[deleted++]));
    a->wal.flush();
  }
  ASSERT_GE(ids.size() - deleted, 5u);  // jobs left to reserve
  const int creates_when_full = fs_.creates;

  for (std::size_t i = deleted; i < ids.size(); ++i) {
    ASSERT_TRUE(a->store.reserve_job(a->session, ids[i]));
    a->wal.flush();
  }
  EXPECT_EQ(fs_.creates, creates_when_full);

  a->clock.advance(kNanosPerSecond);
  a->wal.on_timer();
  EXPECT_EQ(fs_.creates, creates_when_full + 1);  // the retry
}

// No room for the next file: the put that found out goes into the current
// file's reserve, and from then on only deletes do, as long as they fit;
// once the next file can be created the log takes every change again.
TEST_F(WalTest, AFullLogTakesDeletesIntoItsReserveUntilTheNextFileCanBeCreated) {
  WalOptions o = options();
  o.file_size = 8192;  // a reserve of 1 KiB, about 60 deletes; some 70 jobs
  auto a = start(o);
  const std::vector<std::uint64_t> ids = fill_until_full(*a);
  ASSERT_FALSE(a->wal.healthy());
  EXPECT_NE(a->wal.failure().find("No space left"), std::string::npos);
  EXPECT_EQ(wal_files(), (std::vector<std::string>{"lock", Wal::file_name(1)}));

  std::size_t deleted = 0;
  while (a->wal.accepts_deletes() && deleted < ids.size()) {
    ASSERT_TRUE(a->store.delete_job(a->session, ids[deleted]));
    ++deleted;
    a->wal.flush();
  }
  EXPECT_GE(deleted, 50u);  // the reserve, less what the last put took of it
  EXPECT_LT(deleted, ids.size());
  EXPECT_TRUE(a->wal.accepts_deletes() == false);
  EXPECT_LE(fs::file_size(path(Wal::file_name(1))), o.file_size);

  fs_.fail_all_creates = 0;
  a->clock.advance(kNanosPerSecond);
  a->wal.on_timer();
  EXPECT_TRUE(a->wal.healthy());
  EXPECT_TRUE(a->wal.accepts_deletes());
  const std::uint64_t later = put(*a, "after the disk had room again");
  a->wal.flush();
  EXPECT_TRUE(a->wal.healthy());
  a.reset();
  fs_.power_loss();

  auto b = start(o);
  EXPECT_EQ(b->report.jobs, ids.size() - deleted + 1);
  EXPECT_EQ(b->store.find_job(ids[deleted - 1]), nullptr);
  EXPECT_NE(b->store.find_job(ids[deleted]), nullptr);
  EXPECT_NE(b->store.find_job(later), nullptr);
}

// While full, releases, burials and kicks are recorded too, in the first
// quarter of the reserve: a worker that buries what it cannot process keeps
// working, a loop of them stops at that quarter, and the deletes keep the
// rest. Reserves, timeouts and releases that change nothing but counters
// are not recorded meanwhile (a reserved job comes back ready). After a
// stop every recorded change is there.
TEST_F(WalTest, AFullLogTakesReleasesBuriesAndKicksIntoAQuarterOfItsReserve) {
  WalOptions o = options();
  o.file_size = 16384;  // a reserve of 2 KiB: a quarter of it is some 8 updates
  auto a = start(o);
  const std::vector<std::uint64_t> ids = fill_until_full(*a);
  ASSERT_FALSE(a->wal.healthy());
  ASSERT_GT(a->wal.update_room(), 0u);

  // Reserves, TTR timeouts and releases that keep the priority and add no
  // delay only count: they take none of that room.
  const std::uint64_t room = a->wal.update_room();
  ASSERT_TRUE(a->store.reserve_job(a->session, ids.back()));
  a->clock.advance(61 * kNanosPerSecond);  // past its TTR of 60
  a->store.process_timers();
  a->wal.flush();
  EXPECT_EQ(a->store.find_job(ids.back())->state, JobState::Ready);
  EXPECT_EQ(a->store.find_job(ids.back())->activity().counts.timeouts, 1u);
  ASSERT_TRUE(a->store.reserve_job(a->session, ids.back()));
  EXPECT_TRUE(a->store.release_only_counts(a->session, ids.back(), 10, 0));
  EXPECT_FALSE(a->store.release_only_counts(a->session, ids.back(), 11, 0));
  EXPECT_FALSE(a->store.release_only_counts(a->session, ids.back(), 10, 1));
  ASSERT_TRUE(a->store.release(a->session, ids.back(), 10, 0));
  a->wal.flush();
  EXPECT_EQ(a->store.find_job(ids.back())->activity().counts.releases, 1u);
  EXPECT_EQ(a->wal.update_room(), room);

  // Bury, kick and release the same job until the room is gone.
  const std::uint64_t id = ids.front();
  std::uint32_t priority = 0;
  JobState last = JobState::Ready;
  for (int step = 0; a->wal.update_room() > 0 && step < 1000; ++step) {
    if (step % 3 == 1) {
      ASSERT_EQ(a->store.kick(a->session, 1), 1u);
      last = JobState::Ready;
    } else {
      ASSERT_TRUE(a->store.reserve_job(a->session, id));
      if (step % 3 == 0) {
        ASSERT_TRUE(a->store.bury(a->session, id, ++priority));
        last = JobState::Buried;
      } else {
        ASSERT_TRUE(a->store.release(a->session, id, ++priority, 0));
        last = JobState::Ready;
      }
    }
    a->wal.flush();
  }
  EXPECT_GE(priority, 3u);
  EXPECT_LT(priority, 600u);
  EXPECT_EQ(a->store.find_job(id)->state, last);
  // The deletes still have the reserve's second half.
  EXPECT_TRUE(a->wal.accepts_deletes());
  std::size_t deleted = 0;
  while (a->wal.accepts_deletes() && deleted + 1 < ids.size()) {
    ASSERT_TRUE(a->store.delete_job(a->session, ids[++deleted]));
    a->wal.flush();
  }
  EXPECT_GE(deleted, 60u);
  a.reset();
  fs_.power_loss();

  fs_.fail_all_creates = 0;
  auto b = start(o);
  EXPECT_EQ(b->report.jobs, ids.size() - deleted);
  const Job* job = b->store.find_job(id);
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->state, last);
  EXPECT_EQ(job->priority, priority);
}

TEST_F(WalTest, PowerLossDropsOnlyWhatWasNotYetSynced) {
  WalOptions o = options(SyncPolicy::Interval);
  o.sync_interval = 50 * 1000 * 1000;
  {
    auto a = start(o);
    put(*a, "synced");
    a->wal.flush();  // the first write of an interval syncs at once
    put(*a, "not-yet");
    a->wal.flush();  // within the interval: written, not synced
    EXPECT_LT(a->wal.durable_sequence(), a->wal.appended_sequence());
    EXPECT_EQ(a->wal.next_deadline(), a->clock.now() + o.sync_interval);
    crash(*a);
  }
  end_crash();
  fs_.power_loss();
  auto b = start(o);
  EXPECT_NE(b->store.find_job(1), nullptr);
  EXPECT_EQ(b->store.find_job(2), nullptr);
}

TEST_F(WalTest, TheIntervalTimerSyncsABurstsTailWithoutFurtherWrites) {
  WalOptions o = options(SyncPolicy::Interval);
  auto a = start(o);
  put(*a, "one");
  a->wal.flush();
  put(*a, "two");
  a->wal.flush();
  ASSERT_LT(a->wal.durable_sequence(), a->wal.appended_sequence());
  a->clock.advance(o.sync_interval);
  a->wal.on_timer();
  EXPECT_EQ(a->wal.durable_sequence(), a->wal.appended_sequence());
}

TEST_F(WalTest, NeverSyncPolicyNeverSyncs) {
  auto a = start(options(SyncPolicy::Never));
  int before = fs_.syncs;
  for (int i = 0; i < 10; ++i) put(*a, "x");
  a->wal.flush();
  EXPECT_EQ(fs_.syncs.load(), before);
  EXPECT_EQ(a->wal.durable_sequence(), a->wal.appended_sequence());
}

// Every job as a line of text, by id: what a restart must bring back. A
// reserved job is shown as ready (a restart gives it back), a delayed one
// with its remaining delay in whole seconds, and each tube's buried jobs in
// the order they come out.
std::string restorable_state(const Store& store) {
  std::map<std::uint64_t, std::string> jobs;
  std::map<std::string, std::vector<std::pair<Nanos, std::uint64_t>>> buried;
  const Nanos now = store.clock().now();
  store.for_each_job([&](const Job* job) {
    const JobState state = job->state == JobState::Reserved ? JobState::Ready : job->state;
    std::string line =
        std::string(job->tube->name) + " " + job_state_name(state) +
        " pri=" + std::to_string(job->priority) + " delay=" + std::to_string(job->delay_seconds) +
        " ttr=" + std::to_string(job->ttr_seconds) + " body=" + body_of(store, *job) +
        " counters=" + std::to_string(job->activity().counts.reserves) + "/" +
        std::to_string(job->activity().counts.timeouts) + "/" +
        std::to_string(job->activity().counts.releases) + "/" +
        std::to_string(job->activity().counts.buries) + "/" +
        std::to_string(job->activity().counts.kicks);
    if (state == JobState::Delayed) {
      const Nanos left = job->activity().deadline_at - now;
      line += " left=" + std::to_string((left + kNanosPerSecond / 2) / kNanosPerSecond);
    }
    if (state == JobState::Buried)
      buried[job->tube->name].emplace_back(job->activity().deadline_at, job->id);
    jobs[job->id] = line;
  });
  std::string out;
  for (const auto& [id, line] : jobs) out += std::to_string(id) + " " + line + "\n";
  for (auto& [tube, order] : buried) {
    std::sort(order.begin(), order.end());
    out += "buried in " + tube + ":";
    for (const auto& entry : order) out += " " + std::to_string(entry.second);
    out += "\n";
  }
  return out;
}

// A seeded random history of every kind of change, cut by restarts: each
// restart must bring back exactly the jobs there were, and ids must go on
// after the highest ever issued. Small files, so the history crosses
// rotations and compactions. The clock stands still: a delayed job's
// remaining time is then the same on both sides of a restart.
TEST_F(WalTest, RandomHistoriesComeBackExactlyAfterEachRestart) {
  std::mt19937_64 random(20261123);
  auto below = [&](std::uint64_t n) { return random() % n; };
  const std::vector<std::string> tubes = {"default", "a", "b"};
  WalOptions o = options(SyncPolicy::Never);
  o.file_size = 16 * 1024;
  std::string expected;
  std::uint64_t last_id = 0;
  for (int round = 0; round < 8; ++round) {
    auto inst = start(o);
    ASSERT_EQ(restorable_state(inst->store), expected) << "after restart " << round;
    ASSERT_EQ(inst->store.last_job_id(), last_id) << "after restart " << round;
    Store& store = inst->store;
    Session& session = inst->session;
    for (int step = 0; step < 300; ++step) {
      // Mostly one of the newest jobs (or one deleted already).
      const std::uint64_t id = last_id > 12 ? last_id - below(12) : 1 + below(12);
      const auto pri = static_cast<std::uint32_t>(below(4) * 1000);
      switch (below(10)) {
        case 0:
        case 1:
        case 2: {
          const std::uint32_t delay =
              below(3) == 0 ? static_cast<std::uint32_t>(10 + below(500)) : 0;
          const std::string body(below(400), static_cast<char>('a' + below(26)));
          put(*inst, body, pri, delay, tubes[below(tubes.size())]);
          last_id = store.last_job_id();
          break;
        }
        case 3:
          store.reserve_job(session, id);
          break;
        case 4:
          if (below(2) == 0) store.reserve_job(session, id);
          store.release(session, id, pri,
                        below(2) == 0 ? 0 : static_cast<std::uint32_t>(below(300)));
          break;
        case 5:
          if (below(2) == 0) store.reserve_job(session, id);
          store.bury(session, id, pri);
          break;
        case 6:
          store.delete_job(session, id);
          break;
        case 7:
          store.use(session, tubes[below(tubes.size())]);
          store.kick(session, static_cast<std::uint32_t>(below(2)));
          break;
        case 8:
          if (below(3) == 0) store.kick_job(id);
          break;
        case 9:
          store.touch(session, id);
          break;
      }
      // A loop turn ends now and then.
      if (below(4) == 0) inst->wal.flush();
    }
    inst->wal.flush();
    expected = restorable_state(store);
  }
  EXPECT_NE(expected.find("buried in"), std::string::npos);
  EXPECT_NE(expected.find("delayed"), std::string::npos);
  EXPECT_NE(expected.find("/1/"), std::string::npos);
  auto last = start(o);
  EXPECT_EQ(restorable_state(last->store), expected);
  EXPECT_EQ(put(*last, "next"), last_id + 1);
  EXPECT_GT(last->wal.stats().files_deleted + wal_files().size(), 3u);
}

// Reference issue 622: a job released with a delay over and over must not
// make the log grow without bound.
TEST_F(WalTest, CompactionBoundsDiskUseUnderReleaseWithDelayChurn) {
  // The bound does not depend on syncing; skip the 3000 fsyncs.
  WalOptions o = options(SyncPolicy::Never);
  o.file_size = 4096;
  auto a = start(o);
  for (int i = 0; i < 5; ++i) put(*a, std::string(200, 'j'));
  a->wal.flush();
  std::uint64_t max_disk = 0;
  std::size_t max_files = 0;
  for (int round = 0; round < 3000; ++round) {
    std::uint64_t id = 1 + static_cast<std::uint64_t>(round % 5);
    ASSERT_TRUE(a->store.reserve_job(a->session, id));
    ASSERT_TRUE(a->store.release(a->session, id, static_cast<std::uint32_t>(round), 1));
    a->wal.flush();
    const std::uint64_t bound = 2 * a->wal.live_bytes() + 3 * o.file_size;
    ASSERT_LE(a->wal.disk_bytes(), bound) << "round " << round;
    max_disk = std::max(max_disk, a->wal.disk_bytes());
    max_files = std::max(max_files, wal_files().size());
  }
  EXPECT_GT(a->wal.stats().records_migrated, 0u);
  EXPECT_GT(a->wal.stats().files_deleted, 0u);
  EXPECT_LE(max_files, 8u);  // the lock plus a handful of 4 KiB files
  a.reset();
  auto b = start(o);
  EXPECT_EQ(b->report.jobs, 5u);
  // The last release of job 5 (round 2999) set priority 2999.
  EXPECT_EQ(b->store.find_job(5)->priority, 2999u);
  EXPECT_EQ(b->store.find_job(5)->activity().counts.releases, 600u);
}

// Jobs leave their bodies in the log, from the put on and again after a
// restart, and the log reads them back on demand: memory holds the jobs'
// fields only.
TEST_F(WalTest, BodiesStayInTheLogAndAreReadBackExactly) {
  std::string binary(300, '\0');
  for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 7);
  const std::string larger_than_a_file(200 * 1024, 'L');
  const std::string too_large_to_read_in_one_turn(300 * 1024, 'T');
  {
    auto a = start();
    put(*a, "short");                        // 1
    put(*a, binary);                         // 2
    put(*a, larger_than_a_file);             // 3
    put(*a, "sixteen bytes ok", 5, 0, "t");  // 4
    put(*a, too_large_to_read_in_one_turn);  // 5
    EXPECT_FALSE(a->store.find_job(1)->body_in_log);
    EXPECT_FALSE(a->store.find_job(5)->body_in_log);
    // Read back from the records not yet written, then from the file.
    for (bool written : {false, true}) {
      for (std::uint64_t id : {2u, 3u, 4u}) {
        ASSERT_TRUE(a->store.find_job(id)->body_in_log) << id;
      }
      EXPECT_EQ(body_of(a->store, *a->store.find_job(2)), binary) << written;
      EXPECT_EQ(body_of(a->store, *a->store.find_job(3)), larger_than_a_file) << written;
      EXPECT_EQ(body_of(a->store, *a->store.find_job(4)), "sixteen bytes ok") << written;
      EXPECT_EQ(body_of(a->store, *a->store.find_job(5)), too_large_to_read_in_one_turn);
      a->wal.flush();
    }
  }
  auto b = start();
  ASSERT_EQ(b->report.jobs, 5u);
  // The descriptors that read bodies back are taken at start-up: clients
  // using up the rest later cannot make a body unreadable.
  fs_.fail_all_opens_for_read = EMFILE;
  Job* shorter = b->store.find_job(1);
  ASSERT_NE(shorter, nullptr);
  EXPECT_FALSE(shorter->body_in_log);  // it takes no more memory than an offset
  EXPECT_EQ(body_of(b->store, *shorter), "short");
  for (std::uint64_t id : {2u, 3u, 4u}) {
    ASSERT_NE(b->store.find_job(id), nullptr);
    EXPECT_TRUE(b->store.find_job(id)->body_in_log) << id;
  }
  EXPECT_EQ(body_of(b->store, *b->store.find_job(2)), binary);
  EXPECT_EQ(body_of(b->store, *b->store.find_job(3)), larger_than_a_file);
  EXPECT_EQ(body_of(b->store, *b->store.find_job(4)), "sixteen bytes ok");
  EXPECT_FALSE(b->store.find_job(5)->body_in_log);
  EXPECT_EQ(body_of(b->store, *b->store.find_job(5)), too_large_to_read_in_one_turn);
  // Changes after the restart leave them where they are; a new job's body
  // goes to the new file; a second restart finds every body again.
  ASSERT_TRUE(b->store.reserve_job(b->session, 2));
  ASSERT_TRUE(b->store.release(b->session, 2, 1, 0));
  const std::uint64_t fresh = put(*b, "a new job, its body in the log");
  ASSERT_TRUE(b->store.find_job(fresh)->body_in_log);
  EXPECT_EQ(body_of(b->store, *b->store.find_job(fresh)), "a new job, its body in the log");
  b->wal.flush();
  b.reset();
  fs_.fail_all_opens_for_read = 0;
  auto c = start();
  ASSERT_EQ(c->report.jobs, 6u);
  EXPECT_EQ(body_of(c->store, *c->store.find_job(2)), binary);
  EXPECT_EQ(c->store.find_job(2)->priority, 1u);
  EXPECT_EQ(body_of(c->store, *c->store.find_job(3)), larger_than_a_file);
  EXPECT_EQ(body_of(c->store, *c->store.find_job(fresh)), "a new job, its body in the log");
}

// A file that cannot be read because of the machine's state (permissions,
// the descriptor limit) is not damage: recovery stops and changes nothing,
// and once the cause is fixed every job comes back.
TEST_F(WalTest, AnUnreadableFileStopsTheStartAndChangesNothing) {
  {
    auto a = start();
    for (int i = 0; i < 3; ++i) put(*a, "a job long enough to stay in the log");
    a->wal.flush();
  }
  const std::vector<std::string> before = wal_files();
  for (int error : {EACCES, EMFILE}) {
    fs_.fail_all_opens_for_read = error;
    Instance refused(fs_, options());
    EXPECT_FALSE(refused.wal.open(refused.store, refused.error, refused.report));
    EXPECT_NE(refused.error.find("cannot read log file"), std::string::npos) << refused.error;
    EXPECT_NE(refused.error.find("nothing was changed"), std::string::npos) << refused.error;
    EXPECT_NE(refused.error.find(error == EMFILE ? "open-file limit" : "readable by"),
              std::string::npos)
        << refused.error;
    EXPECT_EQ(wal_files(), before);
  }
  fs_.fail_all_opens_for_read = 0;
  auto b = start();
  EXPECT_EQ(b->report.jobs, 3u);
  EXPECT_EQ(b->report.damaged_files, 0u);
}

// Compaction copies recovered jobs out of the oldest file: their bodies are
// read back from it, and from then on come from the copy (still unwritten in
// the same turn, written after), so the old file can go.
TEST_F(WalTest, CompactionMovesTheBodiesThatStayInTheLog) {
  WalOptions o = options(SyncPolicy::Never);
  o.file_size = 4096;
  auto body = [](std::uint64_t id) { return std::string(200, static_cast<char>('a' + id)); };
  {
    auto a = start(o);
    for (std::uint64_t id = 1; id <= 5; ++id) put(*a, body(id));
    a->wal.flush();
  }
  auto b = start(o);
  fs_.fail_all_opens_for_read = EMFILE;  // closed files read through their writer
  for (std::uint64_t id = 1; id <= 5; ++id) ASSERT_TRUE(b->store.find_job(id)->body_in_log);
  for (int round = 0; round < 600; ++round) {
    const std::uint64_t id = 1 + static_cast<std::uint64_t>(round % 5);
    ASSERT_TRUE(b->store.reserve_job(b->session, id));
    ASSERT_TRUE(b->store.release(b->session, id, static_cast<std::uint32_t>(round), 1));
    for (std::uint64_t each = 1; each <= 5; ++each)
      ASSERT_EQ(body_of(b->store, *b->store.find_job(each)), body(each))
          << "before the turn's writes, round " << round << ", job " << each;
    b->wal.flush();
    for (std::uint64_t each = 1; each <= 5; ++each)
      ASSERT_EQ(body_of(b->store, *b->store.find_job(each)), body(each))
          << "after the turn's writes, round " << round << ", job " << each;
  }
  EXPECT_GT(b->wal.stats().records_migrated, 0u);
  EXPECT_GT(b->wal.stats().files_deleted, 0u);
  EXPECT_FALSE(fs::exists(path("wal.0000000001")));  // where the bodies were at first
  b.reset();
  fs_.fail_all_opens_for_read = 0;
  auto c = start(o);
  ASSERT_EQ(c->report.jobs, 5u);
  for (std::uint64_t id = 1; id <= 5; ++id)
    EXPECT_EQ(body_of(c->store, *c->store.find_job(id)), body(id));
}

// Bodies are mostly read in the order they were put, which is the order of
// their records: one read of a file serves the bodies that follow, in any
// file, whether written before or after a restart, up to a record that
// reaches past what was read.
TEST_F(WalTest, BodiesReadInOrderShareTheFilesReads) {
  auto body = [](std::uint64_t id) { return std::string(100 + id % 50, static_cast<char>(id)); };
  constexpr std::uint64_t kJobs = 1000;  // about 190 KiB of records: four 64 KiB files
  auto a = start();
  for (std::uint64_t id = 1; id <= kJobs; ++id) put(*a, body(id));
  a->wal.flush();
  const int before = fs_.reads;
  for (std::uint64_t id = 1; id <= kJobs; ++id)
    ASSERT_EQ(body_of(a->store, *a->store.find_job(id)), body(id)) << id;
  const int in_order = fs_.reads - before;
  EXPECT_GE(in_order, 4);
  EXPECT_LE(in_order, 8);
  // Backwards, each read serves only itself.
  for (std::uint64_t id = 500; id > 490; --id)
    ASSERT_EQ(body_of(a->store, *a->store.find_job(id)), body(id)) << id;
  EXPECT_EQ(fs_.reads - before - in_order, 10);
  a.reset();
  auto b = start();
  const int after_restart = fs_.reads;
  for (std::uint64_t id = 1; id <= kJobs; ++id)
    ASSERT_EQ(body_of(b->store, *b->store.find_job(id)), body(id)) << id;
  EXPECT_LE(fs_.reads - after_restart, 8);
}

// A body that cannot be read back intact is an error, logged with the file
// and offset, never bytes passed on as the job's; the next read tries again.
TEST_F(WalTest, ABodyThatCannotBeReadBackIsAnErrorNotGarbage) {
  const std::string first(40, 'f');
  const std::string second(40, 's');
  {
    auto a = start();
    put(*a, first);
    put(*a, second);
    a->wal.flush();
  }
  auto b = start();
  Job* one = b->store.find_job(1);
  Job* two = b->store.find_job(2);
  ASSERT_TRUE(one && two && one->body_in_log && two->body_in_log);
  std::string out(40, '\0');
  LogCapture logs;
  fs_.fail_next_read = EIO;
  EXPECT_FALSE(b->store.copy_body(*one, out.data()));
  EXPECT_EQ(logs.count("cannot read job 1's body back from log file wal.0000000001 at offset"), 1u);

  // The disk changes a byte under the server (before anything read the
  // record, which would keep it in the read-ahead): the checksum catches it.
  std::string bytes = read("wal.0000000001");
  const std::size_t at = bytes.find(second);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 10] = 'X';
  write("wal.0000000001", bytes);
  EXPECT_FALSE(b->store.copy_body(*two, out.data()));
  EXPECT_EQ(logs.count("the record there is not intact"), 1u);
  EXPECT_EQ(body_of(b->store, *one), first);           // the read error has passed
  EXPECT_FALSE(b->store.copy_body(*two, out.data()));  // read ahead with job 1's, still damaged
  EXPECT_EQ(b->wal.stats().body_read_failures, 3u);
}

// The physical size of every file in the directory, lock and all.
std::uint64_t disk_usage(const std::string& dir) {
  std::uint64_t total = 0;
  for (const auto& e : fs::directory_iterator(dir)) total += fs::file_size(e.path());
  return total;
}

TEST_F(WalTest, RestartsWithoutChangesDoNotPileUpFiles) {
  { start()->wal.flush(); }
  const std::vector<std::string> first = wal_files();
  for (int i = 0; i < 20; ++i) {
    auto a = start();
  }
  EXPECT_EQ(wal_files(), first);
  // ...and a start that changes something keeps its file.
  {
    auto a = start();
    put(*a, "kept");
  }
  auto b = start();
  EXPECT_EQ(b->report.jobs, 1u);
  EXPECT_EQ(wal_files().size(), first.size() + 1);
}

TEST_F(WalTest, ClosedFilesGiveBackTheirPreallocatedSpace) {
  const WalOptions o = options(SyncPolicy::Never);
  {
    auto a = start_on(posix_, o);
    // About three files' worth of jobs, so that two files are closed.
    for (int i = 0; i < 150; ++i) put(*a, std::string(1000, 'p'));
    a->wal.flush();
    ASSERT_GE(wal_files().size(), 4u);  // the lock and three files
    // Closed files hold only their records; the open one is preallocated.
    EXPECT_LE(disk_usage(dir_), a->wal.disk_bytes() + o.file_size);
  }
  // A clean shutdown cuts the last file back too.
  auto b = start_on(posix_, o);
  EXPECT_EQ(b->report.jobs, 150u);
  b.reset();
  std::uint64_t records = 0;
  for (const std::string& name : wal_files())
    if (name != "lock") records += read(name).size();
  EXPECT_EQ(disk_usage(dir_), records);
  EXPECT_LT(disk_usage(dir_), 150u * 1100 + 4 * 1024);
}

// Whether the byte at `offset` of `path` lies in a preallocated block that
// was never written (FIEMAP's unwritten flag); nullopt where the file system
// cannot tell.
std::optional<bool> unwritten_at(const std::string& path, std::uint64_t offset) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return std::nullopt;
  // A fiemap header followed by room for one extent.
  alignas(fiemap) char buffer[sizeof(fiemap) + sizeof(fiemap_extent)] = {};
  auto* map = reinterpret_cast<fiemap*>(buffer);
  map->fm_start = offset;
  map->fm_length = 1;
  map->fm_flags = FIEMAP_FLAG_SYNC;
  map->fm_extent_count = 1;
  const int rc = ::ioctl(fd, FS_IOC_FIEMAP, map);
  ::close(fd);
  if (rc != 0 || map->fm_mapped_extents != 1) return std::nullopt;
  return (map->fm_extents[0].fe_flags & FIEMAP_EXTENT_UNWRITTEN) != 0;
}

// -f 0 writes zeros a mebibyte ahead of its records, so that most of its
// syncs find the blocks already written (see Wal::zero_ahead); other
// policies leave the preallocation alone.
TEST_F(WalTest, SyncingEveryChangeWritesZerosAheadOfTheRecords) {
  WalOptions o = options(SyncPolicy::Always);
  o.file_size = 4 << 20;
  auto a = start_on(posix_, o);
  put(*a, "job");
  a->wal.flush();
  const std::string file = path("wal.0000000001");
  const std::optional<bool> near = unwritten_at(file, 256 * 1024);
  if (!near) GTEST_SKIP() << "the file system does not report unwritten extents";
  EXPECT_FALSE(*near);
  EXPECT_EQ(unwritten_at(file, (1 << 20) - 4096), false);
  EXPECT_EQ(unwritten_at(file, 3 << 20), true);  // beyond: still only preallocated
  a.reset();
  fs::remove_all(dir_);
  fs::create_directory(dir_);
  auto b = start_on(posix_, [&] {
    WalOptions interval = o;
    interval.policy = SyncPolicy::Interval;
    return interval;
  }());
  put(*b, "job");
  b->wal.flush();
  EXPECT_EQ(unwritten_at(file, 256 * 1024), true);
}

TEST_F(WalTest, AZeroFilledTailLeftByACrashIsCutBackAtStart) {
  std::string name;
  {
    auto a = start_on(posix_, options(SyncPolicy::Never));
    put(*a, "job");
    a->wal.flush();
    name = wal_files().back();
    // Were the server killed here, the file would keep its preallocated
    // size; the clean close below cuts it back, so put the zeros back after.
    EXPECT_EQ(read(name).size(), 64u * 1024);
  }
  std::string bytes = read(name);
  ASSERT_LT(bytes.size(), 1024u);
  bytes.resize(64 * 1024, '\0');
  write(name, bytes);
  auto b = start_on(posix_, options());
  EXPECT_EQ(b->report.jobs, 1u);
  EXPECT_LT(read(name).size(), 1024u);
}

TEST_F(WalTest, DeletedJobsFilesAreRemovedOnceTheDeletesAreDurable) {
  WalOptions o = options();
  o.file_size = 4096;
  auto a = start(o);
  for (int i = 0; i < 20; ++i) put(*a, std::string(1000, 'd'));
  a->wal.flush();
  std::size_t files_before = wal_files().size();
  for (std::uint64_t id = 1; id <= 20; ++id) ASSERT_TRUE(a->store.delete_job(a->session, id));
  a->wal.flush();
  // Deleting from the front needs a rotation past the old files; write more.
  for (int i = 0; i < 8; ++i) put(*a, std::string(1000, 'n'));
  a->wal.flush();
  EXPECT_LT(wal_files().size(), files_before);
  EXPECT_GT(a->wal.stats().files_deleted, 0u);
  a.reset();
  auto b = start(o);
  EXPECT_EQ(b->report.jobs, 8u);
  EXPECT_EQ(put(*b, "x"), 29u);
}

// With a sync thread: does the loop's part of its work (waiting on its
// eventfd, then on_sync_done) until `done()`, for at most about 5 s.
template <typename Done>
bool pump_sync_thread(Instance& inst, Done done) {
  for (int i = 0; i < 500 && !done(); ++i) {
    pollfd p{inst.wal.sync_event_fd(), POLLIN, 0};
    ::poll(&p, 1, 10);
    inst.wal.on_sync_done();
  }
  return done();
}

// Until everything written is durable or the log has failed.
void settle(Instance& inst) {
  EXPECT_TRUE(pump_sync_thread(inst, [&] {
    return !inst.wal.healthy() || inst.wal.durable_sequence() >= inst.wal.appended_sequence();
  })) << "the sync thread did not catch up";
}

// Moving to a new file used to sync the closed file, create the new one
// durably and remove obsolete files on the loop: tens of ms with large
// bodies, during which no client was served. All of it now runs on the sync
// thread, in order, and nothing is less durable for it.
TEST_F(WalTest, RotationLeavesEverySyncAndRemovalToTheSyncThread) {
  WalOptions o = threaded_options(4096);
  std::vector<std::uint64_t> kept;
  {
    auto a = start(o);
    for (int i = 0; i < 40; ++i) {
      const std::uint64_t id = put(*a, std::string(1000, static_cast<char>('a' + i % 26)));
      if (i % 4 == 0) {
        kept.push_back(id);
      } else if (i > 8) {
        ASSERT_TRUE(a->store.delete_job(a->session, id - 8));  // old files become obsolete
      }
      a->wal.flush();
      if (i % 3 == 0) settle(*a);
    }
    settle(*a);
    ASSERT_TRUE(a->wal.healthy());
    EXPECT_EQ(a->wal.durable_sequence(), a->wal.appended_sequence());
    EXPECT_GT(a->wal.current_file_index(), 8u);
    // Removals are reported after the syncs they follow.
    EXPECT_TRUE(pump_sync_thread(*a, [&] { return a->wal.stats().files_deleted > 0; }));
    EXPECT_LT(wal_files().size() - 1, a->wal.current_file_index());  // less the lock
    EXPECT_GT(fs_.dir_syncs.load(), 8);  // each new file's creation, the removals
    EXPECT_EQ(fs_.syncs_on_creating_thread.load(), 0);
    // Power fails: whatever a sync covered survives.
    crash(*a);
  }
  end_crash();
  auto b = start(options());
  EXPECT_EQ(b->report.damaged_files, 0u);
  for (std::uint64_t id : kept) {
    const Job* job = b->store.find_job(id);
    ASSERT_NE(job, nullptr) << id;
    EXPECT_EQ(body_of(b->store, *job), std::string(1000, static_cast<char>('a' + (id - 1) % 26)));
  }
}

// A sync that fails after the log moved on fails the closed file's records
// too: they are written again into that file, the newer ones into theirs,
// and a restart after a power loss finds every job.
TEST_F(WalTest, AFailedSyncOfAClosedFileWritesItsRecordsAgainWhereTheyWere) {
  WalOptions o = threaded_options(4096);
  std::vector<std::uint64_t> ids;
  {
    auto a = start(o);
    ids.push_back(put(*a, std::string(1000, 'x')));
    a->wal.flush();
    settle(*a);
    fs_.fail_all_syncs = EIO;
    // Fills file 1 and moves on to file 2: the sync of both fails.
    for (int i = 0; i < 5; ++i)
      ids.push_back(put(*a, std::string(1000, static_cast<char>('a' + i))));
    a->wal.flush();
    EXPECT_EQ(a->wal.current_file_index(), 2u);
    settle(*a);
    EXPECT_FALSE(a->wal.healthy());
    fs_.fail_all_syncs = 0;
    a->clock.advance(kNanosPerSecond);
    a->wal.on_timer();  // the retry
    ASSERT_TRUE(a->wal.healthy()) << a->wal.failure();
    EXPECT_EQ(a->wal.durable_sequence(), a->wal.appended_sequence());
    crash(*a);
  }
  end_crash();
  auto b = start(options());
  EXPECT_EQ(b->report.damaged_files, 0u);
  ASSERT_EQ(b->report.jobs, ids.size());
  EXPECT_EQ(body_of(b->store, *b->store.find_job(ids.back())), std::string(1000, 'e'));
  EXPECT_EQ(wal_files().size(), 4u);  // lock, files 1 and 2, and b's own
}

// Lets the sync thread fill placed records until the reply watermark (with
// -f MS: the placed records filled) reaches `sequence`.
void wait_placed(Instance& inst, std::uint64_t sequence) {
  EXPECT_TRUE(pump_sync_thread(inst, [&] { return inst.wal.reply_watermark() >= sequence; }));
}

// A graceful stop under -F (which syncs nothing, so no sync waits for the
// sync thread) still waits for the fill of a large record put in its last
// turn: the put is answered, and the log is whole, when close returns.
TEST_F(WalTest, CloseWaitsForTheFillOfALargeRecordEvenUnsynced) {
  auto a = start(threaded_options(8 << 20, SyncPolicy::Never));
  put(*a, std::string(kBodyPlacedFrom + 5, 'L'));
  const std::uint64_t large_seq = a->wal.hold_sequence_for_change();
  ASSERT_LT(a->wal.reply_watermark(), large_seq);
  fs_.hold_writes_at = true;  // the fill waits until the close is under way
  std::thread release([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fs_.hold_writes_at = false;
  });
  a->wal.close();
  release.join();
  EXPECT_GE(a->wal.reply_watermark(), large_seq);
}

// A body from kBodyPlacedFrom on is written in two steps: the loop writes a
// placeholder and goes on; the sync thread fills the record. Only the put of
// that body waits for the fill; records after it are written at once, after
// the space it holds; a stop before the fill leaves a placeholder, which
// recovery skips without calling the file damaged.
TEST_F(WalTest, LargeBodiesAreFilledOffTheLoopAndOnlyTheirPutWaits) {
  WalOptions o = threaded_options(8 << 20, SyncPolicy::Interval);
  const std::string large = std::string(kBodyPlacedFrom + 5, 'L') + "end of the large body";
  const std::string small = "a small body written after the large one";
  const std::string copy_tail = dir_ + "-tail", copy_middle = dir_ + "-middle";
  // The log files as a kill -9 would leave them: what was written so far.
  auto copy_log = [&](const std::string& to) {
    fs::create_directory(to);
    for (const std::string& name : wal_files())
      if (name != "lock") fs::copy_file(path(name), to + "/" + name);
  };
  std::uint64_t large_id = 0, small_id = 0;
  {
    auto a = start(o);
    fs_.hold_writes_at = true;
    large_id = put(*a, large);
    const std::uint64_t large_seq = a->wal.hold_sequence_for_change();
    EXPECT_EQ(large_seq, a->wal.appended_sequence());
    a->wal.flush();
    EXPECT_LT(a->wal.reply_watermark(), large_seq);  // INSERTED waits
    copy_log(copy_tail);
    small_id = put(*a, small);
    EXPECT_EQ(a->wal.hold_sequence_for_change(), 0u);  // its reply does not wait
    a->wal.flush();
    copy_log(copy_middle);
    const std::string bytes = read(wal_files().back());
    EXPECT_NE(bytes.find(small), std::string::npos);
    EXPECT_EQ(bytes.find("end of the large body"), std::string::npos);
    EXPECT_EQ(fs_.writes_at.load(), 0);
    fs_.hold_writes_at = false;
    wait_placed(*a, large_seq);
    EXPECT_EQ(fs_.writes_at.load(), 3);  // the payload's head, the body, the header
    EXPECT_NE(read(wal_files().back()).find("end of the large body"), std::string::npos);
  }
  // Stopped with nothing after the placeholder: a torn last record.
  {
    WalOptions c = options();
    c.dir = copy_tail;
    auto b = start(c);
    EXPECT_EQ(b->report.jobs, 0u);
    EXPECT_EQ(b->report.torn_tails, 1u);
    EXPECT_EQ(b->report.damaged_files, 0u);
  }
  // Stopped with a record after it: skipped, and the record after it kept.
  std::ostringstream check;
  EXPECT_EQ(check_wal_directory(copy_middle, check), 0) << check.str();
  EXPECT_NE(check.str().find("interrupted: 1 large records"), std::string::npos) << check.str();
  EXPECT_NE(check.str().find("would recover 1 jobs"), std::string::npos) << check.str();
  {
    WalOptions c = options();
    c.dir = copy_middle;
    auto b = start(c);
    EXPECT_EQ(b->report.jobs, 1u);
    EXPECT_EQ(b->report.damaged_files, 0u);
    ASSERT_NE(b->store.find_job(small_id), nullptr);
    EXPECT_EQ(body_of(b->store, *b->store.find_job(small_id)), small);
    EXPECT_EQ(b->store.find_job(large_id), nullptr);
  }
  fs::remove_all(copy_tail);
  fs::remove_all(copy_middle);
  // Filled: both come back.
  auto b = start(options());
  EXPECT_EQ(b->report.damaged_files, 0u);
  ASSERT_NE(b->store.find_job(large_id), nullptr);
  EXPECT_EQ(body_of(b->store, *b->store.find_job(large_id)), large);
  EXPECT_EQ(body_of(b->store, *b->store.find_job(small_id)), small);
}

// Without a sync thread (these tests' default) the loop fills the record
// itself, right after its placeholder.
TEST_F(WalTest, LargeBodiesWithoutASyncThreadAreFilledAtOnce) {
  const std::string large = std::string(3 * kBodyPlacedFrom, 'I') + "tail";
  for (SyncPolicy policy : {SyncPolicy::Always, SyncPolicy::Never}) {
    WalOptions o = options(policy);
    o.file_size = 1 << 20;  // smaller than the record: a file of its own
    std::uint64_t id = 0;
    {
      auto a = start(o);
      fs_.writes_at = 0;  // the start's own: the header marks of removals
      id = put(*a, large);
      const std::uint64_t seq = a->wal.hold_sequence_for_change();
      EXPECT_EQ(seq, a->wal.appended_sequence());
      put(*a, "after it");
      a->wal.flush();  // the turn's end, before any reply leaves
      EXPECT_GE(a->wal.reply_watermark(), seq);
      EXPECT_EQ(fs_.writes_at.load(), 3);
    }
    auto b = start(o);
    EXPECT_EQ(b->report.damaged_files, 0u);
    ASSERT_NE(b->store.find_job(id), nullptr);
    EXPECT_EQ(body_of(b->store, *b->store.find_job(id)), large);
    ASSERT_TRUE(b->store.delete_job(b->session, id));
    ASSERT_TRUE(b->store.delete_job(b->session, id + 1));
  }
}

// The fill reads the body from the job's memory: a delete before the fill
// keeps that memory until the record is durable (ASan checks the rest).
TEST_F(WalTest, ADeletedLargeJobKeepsItsBodyUntilItsRecordIsDurable) {
  WalOptions o = threaded_options(8 << 20);
  const std::string large(kBodyPlacedFrom * 2, 'D');
  {
    auto a = start(o);
    fs_.hold_writes_at = true;
    const std::uint64_t id = put(*a, large);
    a->wal.flush();
    ASSERT_TRUE(a->store.delete_job(a->session, id));
    a->wal.flush();
    fs_.hold_writes_at = false;
    settle(*a);
    EXPECT_TRUE(a->wal.healthy());
  }
  auto b = start(options());
  EXPECT_EQ(b->report.jobs, 0u);
  EXPECT_EQ(b->report.damaged_files, 0u);
}

// -F has no syncs, but its large records are filled on the sync thread
// too: the put waits for the fill, a delete meanwhile leaves the body in
// place, and a failed fill is done again in place by the retry.
TEST_F(WalTest, NeverSyncingStillFillsLargeRecordsOffTheLoop) {
  WalOptions o = threaded_options(8 << 20, SyncPolicy::Never);
  const std::string kept = std::string(kBodyPlacedFrom, 'K') + "tail";
  std::uint64_t kept_id = 0;
  {
    auto a = start(o);
    fs_.hold_writes_at = true;
    const std::uint64_t gone_id = put(*a, std::string(kBodyPlacedFrom, 'G'));
    const std::uint64_t gone_seq = a->wal.hold_sequence_for_change();
    a->wal.flush();
    ASSERT_TRUE(a->store.delete_job(a->session, gone_id));
    a->wal.flush();
    EXPECT_LT(a->wal.reply_watermark(), gone_seq);
    fs_.hold_writes_at = false;
    wait_placed(*a, gone_seq);

    fs_.fail_next_write_at = EIO;
    kept_id = put(*a, kept);
    const std::uint64_t kept_seq = a->wal.hold_sequence_for_change();
    a->wal.flush();
    EXPECT_TRUE(pump_sync_thread(*a, [&] { return !a->wal.healthy(); }));
    EXPECT_LT(a->wal.reply_watermark(), kept_seq);
    a->clock.advance(kNanosPerSecond);
    a->wal.on_timer();
    ASSERT_TRUE(a->wal.healthy()) << a->wal.failure();
    EXPECT_GE(a->wal.reply_watermark(), kept_seq);
    EXPECT_EQ(fs_.syncs.load(), 0);
  }
  auto b = start(options());
  EXPECT_EQ(b->report.damaged_files, 0u);
  EXPECT_EQ(b->report.jobs, 1u);
  ASSERT_NE(b->store.find_job(kept_id), nullptr);
  EXPECT_EQ(body_of(b->store, *b->store.find_job(kept_id)), kept);
}

// A failed fill fails the log like a failed sync; the retry places the
// record again, and its put is answered once it is written.
TEST_F(WalTest, AFailedFillIsWrittenAgainByTheRetry) {
  WalOptions o = threaded_options(8 << 20);
  const std::string large = std::string(kBodyPlacedFrom, 'F') + "tail";
  std::uint64_t id = 0;
  {
    auto a = start(o);
    fs_.fail_next_write_at = EIO;
    id = put(*a, large);
    const std::uint64_t seq = a->wal.hold_sequence_for_change();
    a->wal.flush();
    settle(*a);
    EXPECT_FALSE(a->wal.healthy());
    EXPECT_LT(a->wal.reply_watermark(), seq);
    a->clock.advance(kNanosPerSecond);
    a->wal.on_timer();
    ASSERT_TRUE(a->wal.healthy()) << a->wal.failure();
    EXPECT_GE(a->wal.reply_watermark(), seq);
    crash(*a);
  }
  end_crash();
  auto b = start(options());
  EXPECT_EQ(b->report.damaged_files, 0u);
  ASSERT_NE(b->store.find_job(id), nullptr);
  EXPECT_EQ(body_of(b->store, *b->store.find_job(id)), large);
}

// The names of the log files among `names` (wal_files() also lists the lock).
std::vector<std::string> log_files_in(const std::vector<std::string>& names) {
  std::vector<std::string> files;
  for (std::uint32_t index : log_file_indexes(names).files) files.push_back(Wal::file_name(index));
  return files;
}

// A missing oldest file leaves no gap between the files present: the newest
// header's mark of the oldest file still needed tells. Recovery warns, counts
// it and rewrites the rest; --check-wal reports it.
TEST_F(WalTest, AMissingOldestFileIsNoticed) {
  WalOptions o = options();
  o.file_size = 8192;  // a few dozen jobs a file
  std::vector<std::uint64_t> ids;
  {
    auto a = start(o);
    for (int i = 0; i < 200; ++i) ids.push_back(put(*a, "a job long enough to stay in the log"));
    a->wal.flush();
  }
  std::vector<std::string> files = log_files_in(wal_files());
  ASSERT_GE(files.size(), 4u);
  std::ostringstream intact;
  EXPECT_EQ(check_wal_directory(dir_, intact), 0) << intact.str();

  ASSERT_TRUE(fs::remove(path(files.front())));
  std::ostringstream check;
  EXPECT_EQ(check_wal_directory(dir_, check), 1);
  EXPECT_NE(check.str().find("missing: " + files.front() + " to " + files.front()),
            std::string::npos)
      << check.str();
  auto b = start(o);
  EXPECT_EQ(b->report.missing_files, 1u);
  EXPECT_LT(b->report.jobs, ids.size());
  EXPECT_EQ(b->store.find_job(ids.front()), nullptr);
  EXPECT_NE(b->store.find_job(ids.back()), nullptr);
  // The rest were written again, so the next start needs nothing older.
  b.reset();
  auto c = start(o);
  EXPECT_EQ(c->report.missing_files, 0u);
}

// Files the log removed on purpose are not missing: the mark moves past
// them before they go, across restarts and whatever the policy.
TEST_F(WalTest, FilesRemovedAsObsoleteAreNotMissing) {
  for (WalOptions o : {options(SyncPolicy::Always), options(SyncPolicy::Never),
                       threaded_options(8192, SyncPolicy::Always)}) {
    o.file_size = 8192;
    std::vector<std::uint64_t> ids;
    for (int run = 0; run < 3; ++run) {
      auto a = start(o);
      EXPECT_EQ(a->report.missing_files, 0u) << "run " << run;
      for (int i = 0; i < 150; ++i) ids.push_back(put(*a, "a job long enough to stay in the log"));
      // Delete the oldest two thirds: their files become obsolete and go.
      const std::size_t keep = ids.size() / 3;
      while (ids.size() > keep) {
        ASSERT_TRUE(a->store.delete_job(a->session, ids.front()));
        ids.erase(ids.begin());
        a->wal.flush();
      }
      a->wal.close();
      EXPECT_GT(a->wal.stats().files_deleted, 0u) << "run " << run;
    }
    auto b = start(o);
    EXPECT_EQ(b->report.missing_files, 0u);
    EXPECT_EQ(b->report.jobs, ids.size());
    std::ostringstream check;
    EXPECT_EQ(check_wal_directory(dir_, check), 0) << check.str();
    b.reset();
    fs::remove_all(dir_);
    fs::create_directory(dir_);
  }
}

// A log written before headers carried the mark (the field is zero) is
// read as before: a missing oldest file cannot be told there.
TEST_F(WalTest, ALogWithoutTheMarkIsReadAsBefore) {
  WalOptions o = options();
  o.file_size = 8192;
  {
    auto a = start(o);
    for (int i = 0; i < 200; ++i) put(*a, "a job long enough to stay in the log");
    a->wal.flush();
  }
  std::vector<std::string> files = log_files_in(wal_files());
  ASSERT_GE(files.size(), 4u);
  for (const std::string& name : files) {
    std::string bytes = read(name);
    bytes.replace(kOldestNeededOffset, 4, std::string(4, '\0'));
    write(name, bytes);
  }
  ASSERT_TRUE(fs::remove(path(files.front())));
  auto b = start(o);
  EXPECT_EQ(b->report.missing_files, 0u);
  EXPECT_EQ(b->report.damaged_files, 0u);
}

}  // namespace
}  // namespace beanstalkd::wal
