// Which log files are missing: gaps between the files present, files from
// the newest header's mark up to the first present, less those kept aside
// as wal.N.damaged.
#include "beanstalkd/wal/file_sequence.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace beanstalkd::wal {
namespace {

std::vector<std::pair<std::uint32_t, std::uint32_t>> missing(
    const std::vector<std::uint32_t>& present, const std::vector<std::uint32_t>& set_aside,
    std::uint32_t oldest_needed) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> runs;
  for (const MissingFiles& m : missing_log_files(present, set_aside, oldest_needed))
    runs.emplace_back(m.first, m.last);
  return runs;
}

using Runs = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

TEST(FileSequence, AnUnbrokenRunFromTheMarkMissesNothing) {
  EXPECT_EQ(missing({4, 5, 6}, {}, 4), Runs{});
  // Older than the mark: a removal a stop cut short.
  EXPECT_EQ(missing({2, 3, 4, 5, 6}, {}, 4), Runs{});
  EXPECT_EQ(missing({}, {}, 4), Runs{});
}

TEST(FileSequence, FilesFromTheMarkUpToTheFirstPresentAreMissing) {
  EXPECT_EQ(missing({7, 8}, {}, 4), (Runs{{4, 6}}));
}

TEST(FileSequence, WithoutAMarkOnlyGapsShow) {
  EXPECT_EQ(missing({7, 8}, {}, 0), Runs{});
  EXPECT_EQ(missing({1, 2, 5, 9}, {}, 0), (Runs{{3, 4}, {6, 8}}));
}

TEST(FileSequence, FilesKeptAsideAreNotMissingAndSplitARun) {
  EXPECT_EQ(missing({9}, {4, 6, 7}, 3), (Runs{{3, 3}, {5, 5}, {8, 8}}));
  EXPECT_EQ(missing({1, 5}, {2, 3, 4}, 1), Runs{});
  // An old damaged file far behind the log is not a reason to look there.
  EXPECT_EQ(missing({50, 51}, {3}, 50), Runs{});
}

TEST(FileSequence, TheLastPossibleIndexDoesNotWrap) {
  EXPECT_EQ(missing({UINT32_MAX - 3, UINT32_MAX}, {UINT32_MAX - 1}, 0),
            (Runs{{UINT32_MAX - 2, UINT32_MAX - 2}}));
}

TEST(FileSequence, OnlyDamagedFileNamesAreSetAside) {
  EXPECT_EQ(parse_set_aside_file_name("wal.0000000012.damaged"), 12u);
  EXPECT_EQ(parse_set_aside_file_name("wal.0000000012"), 0u);
  EXPECT_EQ(parse_set_aside_file_name(".damaged"), 0u);
  EXPECT_EQ(parse_set_aside_file_name("binlog.3.damaged"), 0u);
}

}  // namespace
}  // namespace beanstalkd::wal
