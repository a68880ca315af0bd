#include "beanstalkd/wal/id_runs.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace beanstalkd::wal {
namespace {

std::vector<std::uint64_t> ids(const IdRuns& runs) {
  std::vector<std::uint64_t> out;
  runs.for_each([&](std::uint64_t id) { out.push_back(id); });
  return out;
}

TEST(IdRuns, ConsecutiveIdsShareOneRun) {
  IdRuns runs;
  EXPECT_TRUE(runs.empty());
  for (std::uint64_t id = 1; id <= 1000; ++id) runs.push_back(id);
  EXPECT_EQ(runs.words(), 2u);  // first id and length
  const std::vector<std::uint64_t> all = ids(runs);
  ASSERT_EQ(all.size(), 1000u);
  EXPECT_EQ(all.front(), 1u);
  EXPECT_EQ(all.back(), 1000u);
}

TEST(IdRuns, GapsRepeatsAndDescendingIdsKeepTheirOrder) {
  IdRuns runs;
  for (std::uint64_t id : {5u, 6u, 7u, 10u, 11u, 3u, 3u, 2u, 12u, 13u}) runs.push_back(id);
  EXPECT_EQ(runs.words(), 9u);  // 5-7, 10-11, 12-13 two words each; 3, 3, 2 one each
  EXPECT_EQ(ids(runs), (std::vector<std::uint64_t>{5, 6, 7, 10, 11, 3, 3, 2, 12, 13}));
}

TEST(IdRuns, ScatteredIdsTakeAWordEachAsInAPlainVector) {
  IdRuns runs;
  for (std::uint64_t id = 10; id < 10000; id += 10) runs.push_back(id);
  EXPECT_EQ(runs.words(), 999u);
  const std::vector<std::uint64_t> all = ids(runs);
  ASSERT_EQ(all.size(), 999u);
  EXPECT_EQ(all[1], 20u);
  EXPECT_EQ(all.back(), 9990u);
}

}  // namespace
}  // namespace beanstalkd::wal
