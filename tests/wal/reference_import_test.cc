// The importer of the reference server's binlog: synthetic files built byte
// by byte, and files written by Debian's beanstalkd 1.12 when installed.
#include "beanstalkd/wal/reference_import.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace beanstalkd::wal {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kSec = 1'000'000'000;

// The fields of one 80-byte job record.
struct Rec {
  std::uint64_t id = 0;
  std::uint32_t pri = 0;
  std::int64_t delay_ns = 0;
  std::int64_t ttr_ns = kSec;
  std::optional<std::int32_t> body_size{};  // default: the body given to full()
  std::int64_t created = 0;
  std::int64_t deadline = 0;
  std::uint32_t reserves = 0, timeouts = 0, releases = 0, buries = 0, kicks = 0;
  std::uint8_t state = 1;
  char padding = 0;  // what the padding bytes hold
};

// Builds a reference binlog file byte by byte.
class Binlog {
 public:
  explicit Binlog(std::int32_t version = 7) { put(version); }

  Binlog& full(std::string_view tube, const Rec& r, std::string_view body_with_crlf) {
    put(static_cast<std::int32_t>(tube.size()));
    bytes_.append(tube);
    job(r, static_cast<std::int32_t>(body_with_crlf.size()));
    bytes_.append(body_with_crlf);
    return *this;
  }
  Binlog& update(const Rec& r) {
    put(std::int32_t{0});
    job(r, 0);
    return *this;
  }
  Binlog& end() { return zeros(4 + 80); }
  Binlog& zeros(std::size_t n) {
    bytes_.append(n, '\0');
    return *this;
  }
  Binlog& raw(std::string_view b) {
    bytes_.append(b);
    return *this;
  }
  Binlog& cut(std::size_t n) {
    bytes_.resize(bytes_.size() - n);
    return *this;
  }
  std::size_t size() const { return bytes_.size(); }
  void write(const fs::path& path) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes_.data(), static_cast<std::streamsize>(bytes_.size()));
    ASSERT_TRUE(out.good()) << path;
  }

 private:
  template <typename T>
  void put(T v) {
    char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    bytes_.append(b, sizeof v);
  }
  template <typename T>
  static void at(std::string& rec, std::size_t offset, T v) {
    std::memcpy(rec.data() + offset, &v, sizeof v);
  }
  void job(const Rec& r, std::int32_t body_size) {
    std::string rec(80, r.padding);
    at(rec, 0, r.id);
    at(rec, 8, r.pri);
    at(rec, 16, r.delay_ns);
    at(rec, 24, r.ttr_ns);
    at(rec, 32, r.body_size.value_or(body_size));
    at(rec, 40, r.created);
    at(rec, 48, r.deadline);
    at(rec, 56, r.reserves);
    at(rec, 60, r.timeouts);
    at(rec, 64, r.releases);
    at(rec, 68, r.buries);
    at(rec, 72, r.kicks);
    at(rec, 76, r.state);
    bytes_.append(rec);
  }

  std::string bytes_;
};

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "refimport-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  fs::path operator/(std::string_view name) const { return path_ / name; }

 private:
  fs::path path_;
};

const RecoveredJob* find_job(const ReferenceImport& r, std::uint64_t id) {
  for (const RecoveredJob& j : r.jobs)
    if (j.id == id) return &j;
  return nullptr;
}

std::string all_problems(const ReferenceImport& r) {
  std::string s;
  for (const std::string& p : r.problems) s += p + "\n";
  return s;
}

class ReferenceImportTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed"; }
  TempDir dir_;
};

TEST_F(ReferenceImportTest, NoFilesNoImport) {
  EXPECT_FALSE(has_reference_binlog(dir_.str()));
  EXPECT_FALSE(has_reference_binlog((dir_ / "missing").string()));
  std::ofstream(dir_ / "lock").put('\0');
  std::ofstream(dir_ / "binlog.").put('\0');
  std::ofstream(dir_ / "binlog.x").put('\0');
  std::ofstream(dir_ / "binlog.1.damaged").put('\0');
  std::ofstream(dir_ / "binlog.-1").put('\0');
  fs::create_directory(dir_ / "binlog.9");  // not a regular file
  EXPECT_FALSE(has_reference_binlog(dir_.str()));
  ReferenceImport r = import_reference_binlog(dir_.str());
  EXPECT_TRUE(r.jobs.empty());
  EXPECT_TRUE(r.files.empty());
  EXPECT_TRUE(r.problems.empty()) << all_problems(r);
  EXPECT_EQ(r.max_id, 0u);
}

TEST_F(ReferenceImportTest, FilesInNumericOrder) {
  // Job 1 is created in binlog.2, changed in binlog.10, deleted in binlog.100:
  // replayed in lexical order, it would survive.
  Binlog().full("t", Rec{.id = 1, .pri = 1}, "a\r\n").end().write(dir_ / "binlog.2");
  Binlog().update(Rec{.id = 1, .pri = 2}).write(dir_ / "binlog.10");
  Binlog().update(Rec{.id = 1, .state = 0}).write(dir_ / "binlog.100");
  Binlog().full("t", Rec{.id = 2, .pri = 7}, "b\r\n").write(dir_ / "binlog.0100");
  EXPECT_TRUE(has_reference_binlog(dir_.str()));
  ReferenceImport r = import_reference_binlog(dir_.str());
  ASSERT_EQ(r.files.size(), 4u);
  EXPECT_EQ(r.files[0], (dir_ / "binlog.2").string());
  EXPECT_EQ(r.files[1], (dir_ / "binlog.10").string());
  // binlog.100 and binlog.0100 share an index; either order is fine here.
  EXPECT_TRUE(r.problems.empty()) << all_problems(r);
  ASSERT_EQ(r.jobs.size(), 1u);
  EXPECT_EQ(r.jobs[0].id, 2u);
  EXPECT_EQ(r.max_id, 2u);
}

TEST_F(ReferenceImportTest, FullRecordsEveryField) {
  const std::int64_t created = 1'795'437'338'422'312'000;
  Binlog()
      .full("default",
            Rec{.id = 5,
                .pri = 4294967295u,
                .ttr_ns = 120 * kSec,
                .created = created,
                .reserves = 1,
                .timeouts = 2,
                .releases = 3,
                .buries = 4,
                .kicks = 5,
                .state = 1,
                .padding = '\xAA'},
            std::string_view("he\r\nllo\0\xff\r\n", 11))
      .full("a-b+c/d;e.f$g_h(i)",
            Rec{.id = 3,
                .pri = 0,
                .delay_ns = 90 * kSec + 999'999'999,
                .ttr_ns = 0,
                .created = created,
                .deadline = created + 90 * kSec,
                .state = 4},
            "\r\n")
      .full("t", Rec{.id = 4, .ttr_ns = kSec + kSec / 2, .reserves = 9, .state = 2}, "r\r\n")
      .end()
      .write(dir_ / "binlog.1");
  ReferenceImport r = import_reference_binlog(dir_.str());
  EXPECT_TRUE(r.problems.empty()) << all_problems(r);
  ASSERT_EQ(r.files, std::vector<std::string>{(dir_ / "binlog.1").string()});
  ASSERT_EQ(r.jobs.size(), 3u);
  EXPECT_EQ(r.max_id, 5u);
  // Sorted by id.
  EXPECT_EQ(r.jobs[0].id, 3u);
  EXPECT_EQ(r.jobs[1].id, 4u);
  EXPECT_EQ(r.jobs[2].id, 5u);

  const RecoveredJob& ready = r.jobs[2];
  EXPECT_EQ(ready.tube, "default");
  EXPECT_EQ(ready.priority, 4294967295u);
  EXPECT_EQ(ready.state, JobState::Ready);
  EXPECT_EQ(ready.delay_seconds, 0u);
  EXPECT_EQ(ready.ttr_seconds, 120u);
  EXPECT_EQ(ready.created_at_wall, created);
  EXPECT_EQ(ready.ready_at_wall, 0);
  EXPECT_EQ(ready.counts.reserves, 1u);
  EXPECT_EQ(ready.counts.timeouts, 2u);
  EXPECT_EQ(ready.counts.releases, 3u);
  EXPECT_EQ(ready.counts.buries, 4u);
  EXPECT_EQ(ready.counts.kicks, 5u);
  EXPECT_EQ(ready.bury_order, 0u);
  EXPECT_EQ(ready.body, std::string_view("he\r\nllo\0\xff", 9));

  const RecoveredJob& delayed = r.jobs[0];
  EXPECT_EQ(delayed.tube, "a-b+c/d;e.f$g_h(i)");
  EXPECT_EQ(delayed.state, JobState::Delayed);
  EXPECT_EQ(delayed.delay_seconds, 90u);  // whole seconds
  EXPECT_EQ(delayed.ttr_seconds, 1u);     // at least 1
  EXPECT_EQ(delayed.ready_at_wall, created + 90 * kSec);
  EXPECT_EQ(delayed.body, "");

  const RecoveredJob& reserved = r.jobs[1];
  EXPECT_EQ(reserved.state, JobState::Ready);  // reserved comes back ready
  EXPECT_EQ(reserved.ttr_seconds, 1u);
  EXPECT_EQ(reserved.counts.reserves, 9u);
  EXPECT_EQ(reserved.body, "r");
}

TEST_F(ReferenceImportTest, ShortRecordsChangeStateAndDelete) {
  const std::int64_t t0 = 1'700'000'000'000'000'000;
  Binlog()
      .full("x", Rec{.id = 1, .pri = 10, .ttr_ns = 5 * kSec, .created = t0}, "one\r\n")
      .full("y", Rec{.id = 2, .pri = 20, .created = t0}, "two\r\n")
      .full("y", Rec{.id = 3, .pri = 30, .created = t0}, "three\r\n")
      // Released with a delay: new priority, delay and deadline.
      .update(Rec{.id = 1,
                  .pri = 11,
                  .delay_ns = 4 * kSec,
                  .ttr_ns = 5 * kSec,
                  .created = t0,
                  .deadline = t0 + 9 * kSec,
                  .reserves = 1,
                  .releases = 1,
                  .state = 4,
                  .padding = '\x55'})
      // Buried; the leftover deadline is ignored.
      .update(Rec{.id = 2,
                  .pri = 21,
                  .created = t0,
                  .deadline = t0 + kSec,
                  .reserves = 1,
                  .buries = 1,
                  .state = 3})
      .update(Rec{.id = 3, .created = t0, .state = 0})             // deleted
      .update(Rec{.id = 3, .pri = 99, .created = t0, .state = 1})  // deleted: ignored
      .update(Rec{.id = 42, .pri = 99, .state = 1})                // never seen: ignored
      .update(Rec{.id = 43, .state = 0})                           // never seen: ignored
      .end()
      .write(dir_ / "binlog.7");
  ReferenceImport r = import_reference_binlog(dir_.str());
  EXPECT_TRUE(r.problems.empty()) << all_problems(r);
  EXPECT_EQ(r.max_id, 43u);
  ASSERT_EQ(r.jobs.size(), 2u);

  const RecoveredJob& j1 = r.jobs[0];
  EXPECT_EQ(j1.id, 1u);
  EXPECT_EQ(j1.tube, "x");
  EXPECT_EQ(j1.body, "one");
  EXPECT_EQ(j1.priority, 11u);
  EXPECT_EQ(j1.state, JobState::Delayed);
  EXPECT_EQ(j1.delay_seconds, 4u);
  EXPECT_EQ(j1.ttr_seconds, 5u);
  EXPECT_EQ(j1.ready_at_wall, t0 + 9 * kSec);
  EXPECT_EQ(j1.created_at_wall, t0);
  EXPECT_EQ(j1.counts.reserves, 1u);
  EXPECT_EQ(j1.counts.releases, 1u);

  const RecoveredJob& j2 = r.jobs[1];
  EXPECT_EQ(j2.id, 2u);
  EXPECT_EQ(j2.tube, "y");
  EXPECT_EQ(j2.body, "two");
  EXPECT_EQ(j2.priority, 21u);
  EXPECT_EQ(j2.state, JobState::Buried);
  EXPECT_EQ(j2.ready_at_wall, 0);
  EXPECT_EQ(j2.counts.buries, 1u);
  EXPECT_GT(j2.bury_order, 0u);
}

TEST_F(ReferenceImportTest, BuryOrderFollowsTheBuryingRecords) {
  Binlog()
      .full("t", Rec{.id = 1}, "1\r\n")
      .full("t", Rec{.id = 2}, "2\r\n")
      .full("t", Rec{.id = 3}, "3\r\n")
      .full("t", Rec{.id = 4, .state = 3}, "4\r\n")  // buried first (a compaction copy)
      .update(Rec{.id = 3, .state = 3})              // second
      .update(Rec{.id = 1, .state = 3})              // third, then kicked and buried again
      .update(Rec{.id = 2, .state = 3})              // fourth
      .write(dir_ / "binlog.1");
  Binlog()
      .update(Rec{.id = 1, .kicks = 1, .state = 1})
      .update(Rec{.id = 1, .buries = 2, .kicks = 1, .state = 3})  // last now
      // The reference copies live jobs into its newest file: a buried job
      // re-stated as buried keeps its place.
      .full("t", Rec{.id = 3, .state = 3}, "3\r\n")
      .full("t", Rec{.id = 4, .state = 3}, "4\r\n")
      .end()
      .write(dir_ / "binlog.2");
  ReferenceImport r = import_reference_binlog(dir_.str());
  EXPECT_TRUE(r.problems.empty()) << all_problems(r);
  ASSERT_EQ(r.jobs.size(), 4u);
  std::vector<RecoveredJob> buried = r.jobs;
  std::sort(buried.begin(), buried.end(), [](const RecoveredJob& a, const RecoveredJob& b) {
    return a.bury_order < b.bury_order;
  });
  std::vector<std::uint64_t> order;
  for (const RecoveredJob& j : buried) {
    EXPECT_EQ(j.state, JobState::Buried) << j.id;
    order.push_back(j.id);
  }
  EXPECT_EQ(order, (std::vector<std::uint64_t>{4, 3, 2, 1}));
  EXPECT_EQ(find_job(r, 1)->counts.kicks, 1u);
  EXPECT_EQ(find_job(r, 1)->counts.buries, 2u);
}

TEST_F(ReferenceImportTest, FullRecordReplacesAJob) {
  Binlog()
      .full("old", Rec{.id = 9, .pri = 1, .deadline = 5, .state = 4}, "old\r\n")
      .write(dir_ / "binlog.3");
  Binlog()
      .full("new", Rec{.id = 9, .pri = 2, .reserves = 3}, "new body\r\n")
      .write(dir_ / "binlog.4");
  ReferenceImport r = import_reference_binlog(dir_.str());
  EXPECT_TRUE(r.problems.empty()) << all_problems(r);
  ASSERT_EQ(r.jobs.size(), 1u);
  EXPECT_EQ(r.jobs[0].tube, "new");
  EXPECT_EQ(r.jobs[0].body, "new body");
  EXPECT_EQ(r.jobs[0].priority, 2u);
  EXPECT_EQ(r.jobs[0].state, JobState::Ready);
  EXPECT_EQ(r.jobs[0].ready_at_wall, 0);
  EXPECT_EQ(r.jobs[0].counts.reserves, 3u);
}

TEST_F(ReferenceImportTest, IdZeroEndsTheFile) {
  Binlog()
      .full("t", Rec{.id = 1}, "a\r\n")
      .end()
      .full("t", Rec{.id = 2}, "b\r\n")  // after the end: not part of the log
      .zeros(4000)
      .write(dir_ / "binlog.1");
  // A name length with an id-0 job record ends it too.
  Binlog()
      .full("t", Rec{.id = 0}, "c\r\n")
      .full("t", Rec{.id = 3}, "d\r\n")
      .write(dir_ / "binlog.2");
  // Trailing zeros too short to hold an id-0 record, and a file that stops
  // right after its last record, are clean ends as well.
  Binlog().full("t", Rec{.id = 4}, "e\r\n").zeros(50).write(dir_ / "binlog.3");
  Binlog().full("t", Rec{.id = 5}, "f\r\n").zeros(2).write(dir_ / "binlog.4");
  Binlog().full("t", Rec{.id = 6}, "g\r\n").write(dir_ / "binlog.5");
  Binlog().write(dir_ / "binlog.6");  // only the version
  ReferenceImport r = import_reference_binlog(dir_.str());
  EXPECT_TRUE(r.problems.empty()) << all_problems(r);
  std::vector<std::uint64_t> ids;
  for (const RecoveredJob& j : r.jobs) ids.push_back(j.id);
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 4, 5, 6}));
  EXPECT_EQ(r.max_id, 6u);
  EXPECT_EQ(r.files.size(), 6u);
}

TEST_F(ReferenceImportTest, WrongVersionIsReportedAndSkipped) {
  Binlog(6).full("t", Rec{.id = 1}, "a\r\n").write(dir_ / "binlog.1");
  Binlog().full("t", Rec{.id = 2}, "b\r\n").write(dir_ / "binlog.2");
  Binlog().cut(2).write(dir_ / "binlog.3");  // too short for a version
  ReferenceImport r = import_reference_binlog(dir_.str());
  ASSERT_EQ(r.problems.size(), 2u) << all_problems(r);
  EXPECT_NE(r.problems[0].find("binlog.1"), std::string::npos) << r.problems[0];
  EXPECT_NE(r.problems[0].find("version 6"), std::string::npos) << r.problems[0];
  EXPECT_NE(r.problems[1].find("binlog.3"), std::string::npos) << r.problems[1];
  ASSERT_EQ(r.jobs.size(), 1u);
  EXPECT_EQ(r.jobs[0].id, 2u);
  EXPECT_EQ(r.max_id, 2u);
}

TEST_F(ReferenceImportTest, TruncatedTailIsReportedAndReplayGoesOn) {
  // Cut in the body, in the job record, in the name, in the name length.
  const std::size_t cuts[] = {2, 20, 86, 88};
  int index = 1;
  for (std::size_t cut : cuts) {
    Binlog b;
    b.full("tube", Rec{.id = static_cast<std::uint64_t>(index)}, "ok\r\n");
    std::size_t good_end = b.size();
    b.full("tube", Rec{.id = 100}, "body\r\n").cut(cut);
    b.write(dir_ / ("binlog." + std::to_string(index)));
    ReferenceImport r = import_reference_binlog(dir_.str());
    ASSERT_EQ(r.problems.size(), static_cast<std::size_t>(index)) << all_problems(r);
    const std::string& p = r.problems.back();
    EXPECT_NE(p.find("binlog." + std::to_string(index) + " offset " + std::to_string(good_end)),
              std::string::npos)
        << p;
    EXPECT_NE(p.find("truncated"), std::string::npos) << p;
    ++index;
  }
  // A later file still counts, and the short-record case too.
  Binlog()
      .full("t", Rec{.id = 7}, "x\r\n")
      .update(Rec{.id = 7, .state = 3})
      .cut(1)
      .write(dir_ / "binlog.5");
  Binlog().update(Rec{.id = 7, .pri = 8}).write(dir_ / "binlog.6");
  ReferenceImport r = import_reference_binlog(dir_.str());
  EXPECT_EQ(r.problems.size(), 5u) << all_problems(r);
  std::vector<std::uint64_t> ids;
  for (const RecoveredJob& j : r.jobs) ids.push_back(j.id);
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 2, 3, 4, 7}));
  const RecoveredJob* j7 = find_job(r, 7);
  ASSERT_NE(j7, nullptr);
  EXPECT_EQ(j7->state, JobState::Ready);  // the torn bury never happened
  EXPECT_EQ(j7->priority, 8u);
}

TEST_F(ReferenceImportTest, BodyWithoutCrlfIsReported) {
  Binlog()
      .full("t", Rec{.id = 1}, "abcd")  // last two bytes are not CRLF
      .full("t", Rec{.id = 2}, "ok\r\n")
      .write(dir_ / "binlog.1");
  ReferenceImport r = import_reference_binlog(dir_.str());
  ASSERT_EQ(r.problems.size(), 1u) << all_problems(r);
  EXPECT_NE(r.problems[0].find("CRLF"), std::string::npos) << r.problems[0];
  EXPECT_NE(r.problems[0].find("job 1"), std::string::npos) << r.problems[0];
  ASSERT_EQ(r.jobs.size(), 2u);
  EXPECT_EQ(r.jobs[0].body, "ab");
  EXPECT_EQ(r.jobs[1].body, "ok");
}

TEST_F(ReferenceImportTest, MalformedRecordsStopTheFile) {
  struct Case {
    const char* what;
    Binlog file;
  };
  std::vector<Case> cases;
  cases.push_back({"tube name length", Binlog().raw(std::string("\xff\xff\xff\xff", 4))});
  cases.push_back({"tube name length", Binlog().raw(std::string("\xc9\0\0\0", 4)).zeros(300)});
  cases.push_back({"state", Binlog().full("t", Rec{.id = 1, .state = 5}, "a\r\n")});
  cases.push_back({"body size", Binlog().full("t", Rec{.id = 1, .body_size = 1}, "a\r\n")});
  cases.push_back({"body size", Binlog().full("t", Rec{.id = 1, .body_size = -5}, "a\r\n")});
  cases.push_back({"invalid characters", Binlog().full("t u", Rec{.id = 1}, "a\r\n")});
  for (std::size_t i = 0; i < cases.size(); ++i) {
    TempDir dir;
    Binlog file = cases[i].file;
    file.full("t", Rec{.id = 2}, "after\r\n");  // not trusted after damage
    file.write(dir / "binlog.1");
    Binlog().full("t", Rec{.id = 3}, "next\r\n").write(dir / "binlog.2");
    ReferenceImport r = import_reference_binlog(dir.str());
    ASSERT_EQ(r.problems.size(), 1u) << i << "\n" << all_problems(r);
    EXPECT_NE(r.problems[0].find(cases[i].what), std::string::npos) << r.problems[0];
    EXPECT_NE(r.problems[0].find("binlog.1 offset 4:"), std::string::npos) << r.problems[0];
    ASSERT_EQ(r.jobs.size(), 1u) << i;
    EXPECT_EQ(r.jobs[0].id, 3u);
  }
}

// ---------------------------------------------------------------------------
// End to end: files written by the reference server itself.

constexpr const char* kReference = "/usr/bin/beanstalkd";

std::int64_t wall_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::uint16_t> free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  std::optional<std::uint16_t> port;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

class ReferenceServer {
 public:
  ~ReferenceServer() { kill9(); }

  bool start(const std::string& dir, std::uint16_t port) {
    std::string port_text = std::to_string(port);
    std::vector<std::string> args = {kReference, "-l", "127.0.0.1", "-p",   port_text,
                                     "-b",       dir,  "-s",        "65536"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return ::posix_spawn(&pid_, kReference, nullptr, nullptr, argv.data(), environ) == 0;
  }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// A blocking client whose every read is bounded by a receive timeout.
class Client {
 public:
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool connect_to(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    timeval tv{};
    tv.tv_sec = 3;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
    ::close(fd_);
    fd_ = -1;
    return false;
  }

  // Sends a command (and a body), returns the reply line without CRLF; for
  // RESERVED, the body is read and appended after a '|'.
  std::string cmd(const std::string& line, std::optional<std::string_view> body = std::nullopt) {
    std::string out = line + "\r\n";
    if (body) out.append(*body).append("\r\n");
    if (!send_all(out)) return "<send failed>";
    std::string reply = read_line();
    if (reply.rfind("RESERVED ", 0) == 0) {
      std::size_t size = std::stoul(reply.substr(reply.rfind(' ') + 1));
      std::string data = read_exact(size + 2);
      reply += "|" + data.substr(0, size);
    }
    return reply;
  }

 private:
  bool send_all(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  bool fill() {
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;  // closed, error or timeout
      buffer_.append(buf, static_cast<std::size_t>(n));
      return true;
    }
  }
  std::string read_line() {
    std::size_t end;
    while ((end = buffer_.find("\r\n")) == std::string::npos)
      if (!fill()) return "<no reply>";
    std::string line = buffer_.substr(0, end);
    buffer_.erase(0, end + 2);
    return line;
  }
  std::string read_exact(std::size_t n) {
    while (buffer_.size() < n)
      if (!fill()) break;
    std::string data = buffer_.substr(0, n);
    buffer_.erase(0, std::min(n, buffer_.size()));
    return data;
  }

  int fd_ = -1;
  std::string buffer_;
};

struct Expected {
  std::string tube;
  std::uint32_t priority = 0;
  JobState state = JobState::Ready;
  std::uint32_t delay = 0, ttr = 0;
  std::string body;
  std::uint32_t reserves = 0, timeouts = 0, releases = 0, buries = 0, kicks = 0;
  std::int64_t created_after = 0, created_before = 0;
  std::int64_t ready_after = 0, ready_before = 0;  // Delayed only
};

TEST(ReferenceImportEndToEnd, ImportsWhatTheReferenceWrote) {
  if (::access(kReference, X_OK) != 0) GTEST_SKIP() << kReference << " not installed";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string binlog_dir = (dir / "binlog").string();
  fs::create_directory(binlog_dir);

  // Start it on a port picked now; retry if someone took the port meanwhile.
  ReferenceServer server;
  Client c;
  bool connected = false;
  for (int attempt = 0; attempt < 3 && !connected; ++attempt) {
    std::optional<std::uint16_t> port = free_loopback_port();
    ASSERT_TRUE(port);
    ASSERT_TRUE(server.start(binlog_dir, *port));
    for (int i = 0; i < 200 && !connected && server.running(); ++i) {
      connected = c.connect_to(*port);
      if (!connected) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!connected) server.kill9();
  }
  ASSERT_TRUE(connected) << "the reference server did not start";

  std::map<std::uint64_t, Expected> want;
  std::uint64_t next_id = 1;
  // Puts a job and records what it should look like.
  auto put = [&](const std::string& tube, std::uint32_t pri, std::uint32_t delay, std::uint32_t ttr,
                 const std::string& body) {
    std::int64_t before = wall_now();
    std::string reply = c.cmd("put " + std::to_string(pri) + " " + std::to_string(delay) + " " +
                                  std::to_string(ttr) + " " + std::to_string(body.size()),
                              body);
    std::int64_t after = wall_now();
    std::uint64_t id = next_id++;
    EXPECT_EQ(reply, "INSERTED " + std::to_string(id));
    Expected& e = want[id];
    e.tube = tube;
    e.priority = pri;
    e.delay = delay;
    e.ttr = ttr == 0 ? 1 : ttr;
    e.body = body;
    e.created_after = before;
    e.created_before = after;
    if (delay > 0) {
      e.state = JobState::Delayed;
      e.ready_after = before + delay * kSec;
      e.ready_before = after + delay * kSec;
    }
    return id;
  };
  auto reserve = [&](std::uint64_t id) {
    std::string reply = c.cmd("reserve-job " + std::to_string(id));
    EXPECT_EQ(reply.rfind("RESERVED " + std::to_string(id) + " ", 0), 0u) << reply;
    ++want[id].reserves;
  };
  auto ok = [&](const std::string& line, const std::string& expected) {
    EXPECT_EQ(c.cmd(line), expected) << line;
  };

  ASSERT_EQ(c.cmd("use alpha"), "USING alpha");
  const std::uint64_t ready = put("alpha", 10, 0, 5, "ready one");
  const std::uint64_t delayed = put("alpha", 20, 100, 7, std::string("de\r\nlayed\0", 10));
  const std::uint64_t buried_first = put("alpha", 30, 0, 9, "buried first");
  const std::uint64_t reserved = put("alpha", 40, 0, 60, "reserved at kill");
  const std::uint64_t empty = put("alpha", 4294967295u, 0, 0, "");

  reserve(buried_first);
  ok("bury " + std::to_string(buried_first) + " 31", "BURIED");
  want[buried_first].priority = 31;
  want[buried_first].state = JobState::Buried;
  ++want[buried_first].buries;

  reserve(reserved);  // reserving is not logged
  want[reserved].reserves = 0;

  ASSERT_EQ(c.cmd("use beta"), "USING beta");
  // Released without a delay: the reference logs nothing, so the import has
  // the put's priority and no release (a reference defect, issue 597).
  const std::uint64_t released = put("beta", 50, 0, 3, "released");
  reserve(released);
  ok("release " + std::to_string(released) + " 55 0", "RELEASED");
  want[released].reserves = 0;

  // Released with a delay: logged with the new priority.
  const std::uint64_t released_delayed = put("beta", 60, 0, 4, "released later");
  reserve(released_delayed);
  std::int64_t before = wall_now();
  ok("release " + std::to_string(released_delayed) + " 66 30", "RELEASED");
  std::int64_t after = wall_now();
  {
    Expected& e = want[released_delayed];
    e.priority = 66;
    e.state = JobState::Delayed;
    e.delay = 30;
    e.releases = 1;
    e.ready_after = before + 30 * kSec;
    e.ready_before = after + 30 * kSec;
  }

  // Buried, then kicked with kick (buried jobs of the used tube).
  const std::uint64_t kicked = put("beta", 70, 0, 2, "kicked");
  reserve(kicked);
  ok("bury " + std::to_string(kicked) + " 71", "BURIED");
  ok("kick 10", "KICKED 1");
  want[kicked].priority = 71;
  want[kicked].buries = 1;
  want[kicked].kicks = 1;

  // Delayed, then kicked with kick-job.
  const std::uint64_t kicked_delayed = put("beta", 75, 50, 2, "kicked delayed");
  ok("kick-job " + std::to_string(kicked_delayed), "KICKED");
  want[kicked_delayed].state = JobState::Ready;
  want[kicked_delayed].kicks = 1;
  want[kicked_delayed].ready_after = want[kicked_delayed].ready_before = 0;

  // Deleted while ready, while reserved, while buried.
  const std::uint64_t deleted_ready = put("beta", 80, 0, 2, "deleted");
  ok("delete " + std::to_string(deleted_ready), "DELETED");
  const std::uint64_t deleted_reserved = put("alpha", 81, 0, 2, "deleted reserved");
  reserve(deleted_reserved);
  ok("delete " + std::to_string(deleted_reserved), "DELETED");
  const std::uint64_t deleted_buried = put("beta", 82, 0, 2, "deleted buried");
  reserve(deleted_buried);
  ok("bury " + std::to_string(deleted_buried) + " 82", "BURIED");
  ok("delete " + std::to_string(deleted_buried), "DELETED");
  want.erase(deleted_ready);
  want.erase(deleted_reserved);
  want.erase(deleted_buried);

  // The second buried job, in the other tube.
  const std::uint64_t buried_second = put("beta", 90, 0, 11, "buried second");
  reserve(buried_second);
  ok("bury " + std::to_string(buried_second) + " 91", "BURIED");
  want[buried_second].priority = 91;
  want[buried_second].state = JobState::Buried;
  want[buried_second].buries = 1;
  const std::uint64_t last_id = buried_second;

  // The reference writes each record before it replies; no fsync is needed
  // for a kill -9 (the page cache survives the process).
  server.kill9();

  ASSERT_TRUE(has_reference_binlog(binlog_dir));
  ReferenceImport r = import_reference_binlog(binlog_dir);
  EXPECT_TRUE(r.problems.empty()) << all_problems(r);
  EXPECT_EQ(r.files, std::vector<std::string>{(fs::path(binlog_dir) / "binlog.1").string()});
  EXPECT_EQ(r.max_id, last_id);
  ASSERT_EQ(r.jobs.size(), want.size());
  for (const RecoveredJob& got : r.jobs) {
    SCOPED_TRACE("job " + std::to_string(got.id));
    auto it = want.find(got.id);
    ASSERT_NE(it, want.end());
    const Expected& e = it->second;
    EXPECT_EQ(got.tube, e.tube);
    EXPECT_EQ(got.priority, e.priority);
    EXPECT_EQ(got.state, e.state);
    EXPECT_EQ(got.delay_seconds, e.delay);
    EXPECT_EQ(got.ttr_seconds, e.ttr);
    EXPECT_EQ(got.body, e.body);
    EXPECT_EQ(got.counts.reserves, e.reserves);
    EXPECT_EQ(got.counts.timeouts, e.timeouts);
    EXPECT_EQ(got.counts.releases, e.releases);
    EXPECT_EQ(got.counts.buries, e.buries);
    EXPECT_EQ(got.counts.kicks, e.kicks);
    // Wall-clock time, microsecond resolution in the reference.
    constexpr std::int64_t kSlack = 1'000'000;
    EXPECT_GE(got.created_at_wall, e.created_after - kSlack);
    EXPECT_LE(got.created_at_wall, e.created_before + kSlack);
    if (e.state == JobState::Delayed) {
      EXPECT_GE(got.ready_at_wall, e.ready_after - kSlack);
      EXPECT_LE(got.ready_at_wall, e.ready_before + kSlack);
    } else {
      EXPECT_EQ(got.ready_at_wall, 0);
    }
    if (e.state == JobState::Buried)
      EXPECT_GT(got.bury_order, 0u);
    else
      EXPECT_EQ(got.bury_order, 0u);
  }
  const RecoveredJob* first = find_job(r, buried_first);
  const RecoveredJob* second = find_job(r, buried_second);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_LT(first->bury_order, second->bury_order);
  // Silence unused warnings for ids only used through `want`.
  (void)ready;
  (void)delayed;
  (void)empty;
}

}  // namespace
}  // namespace beanstalkd::wal
