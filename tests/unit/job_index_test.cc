// The open-addressing index of jobs by id: lookups stay right through
// growth, backward-shift deletion inside probe runs, and shrinking.
#include "beanstalkd/job_index.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

#include "beanstalkd/job.h"

namespace beanstalkd {
namespace {

// Owns Job headers (no body) for the index to point at.
class JobPool {
 public:
  Job* get(std::uint64_t id) {
    auto& slot = jobs_[id];
    if (!slot) {
      slot = std::make_unique<Job>();
      slot->id = id;
    }
    return slot.get();
  }

 private:
  std::unordered_map<std::uint64_t, std::unique_ptr<Job>> jobs_;
};

std::size_t count_all(const JobIndex& index) {
  std::size_t n = 0;
  index.for_each([&](Job*) { ++n; });
  return n;
}

TEST(JobIndex, StartsEmpty) {
  JobIndex index;
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.find(1), nullptr);
  EXPECT_EQ(index.find(0), nullptr);
  EXPECT_FALSE(index.erase(1));
  EXPECT_EQ(count_all(index), 0u);
}

TEST(JobIndex, FindsWhatWasInserted) {
  JobPool pool;
  JobIndex index;
  index.insert(pool.get(7));
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.find(7), pool.get(7));
  EXPECT_EQ(index.find(8), nullptr);
}

TEST(JobIndex, EraseRemovesOnlyThatId) {
  JobPool pool;
  JobIndex index;
  index.insert(pool.get(1));
  index.insert(pool.get(2));
  EXPECT_TRUE(index.erase(1));
  EXPECT_EQ(index.find(1), nullptr);
  EXPECT_EQ(index.find(2), pool.get(2));
  EXPECT_EQ(index.size(), 1u);
  EXPECT_FALSE(index.erase(1));
  EXPECT_EQ(index.size(), 1u);
}

TEST(JobIndex, ManySequentialIdsAreAllFoundThroughGrowth) {
  JobPool pool;
  JobIndex index;
  constexpr std::uint64_t kN = 50'000;
  for (std::uint64_t id = 1; id <= kN; ++id) {
    index.insert(pool.get(id));
    ASSERT_EQ(index.find(id), pool.get(id)) << id;
  }
  EXPECT_EQ(index.size(), kN);
  EXPECT_EQ(count_all(index), kN);
  for (std::uint64_t id = 1; id <= kN; ++id) ASSERT_EQ(index.find(id), pool.get(id)) << id;
  EXPECT_EQ(index.find(kN + 1), nullptr);
  EXPECT_EQ(index.find(0), nullptr);
}

TEST(JobIndex, ForEachVisitsEveryJobOnce) {
  JobPool pool;
  JobIndex index;
  for (std::uint64_t id = 100; id < 400; ++id) index.insert(pool.get(id));
  std::multiset<std::uint64_t> seen;
  index.for_each([&](Job* j) { seen.insert(j->id); });
  ASSERT_EQ(seen.size(), 300u);
  std::uint64_t expect = 100;
  for (std::uint64_t id : seen) EXPECT_EQ(id, expect++);
}

TEST(JobIndex, HugeIdsWork) {
  JobPool pool;
  JobIndex index;
  const std::uint64_t ids[] = {UINT64_MAX, UINT64_MAX - 1, std::uint64_t{1} << 63,
                               std::uint64_t{1} << 32, 0xDEADBEEFCAFEBABEull};
  for (std::uint64_t id : ids) index.insert(pool.get(id));
  for (std::uint64_t id : ids) EXPECT_EQ(index.find(id), pool.get(id));
  for (std::uint64_t id : ids) EXPECT_TRUE(index.erase(id));
  EXPECT_EQ(index.size(), 0u);
}

// Ids that share a home slot in a 16-slot table form one probe run; erasing
// from its middle must pull the later members back so they stay findable.
TEST(JobIndex, EraseInTheMiddleOfAProbeRunKeepsLaterMembersFindable) {
  // Mirror of the index's hash for the initial 16-slot table.
  auto home16 = [](std::uint64_t id) {
    return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ULL) >> 32) & 15u;
  };
  // Collect 5 ids with the same home slot and 3 with the next one (these
  // interleave into the same run). Stay under the 3/4 load of 16 slots.
  std::vector<std::uint64_t> same, next;
  const std::size_t target = home16(1);
  for (std::uint64_t id = 1; same.size() < 5 || next.size() < 3; ++id) {
    if (home16(id) == target && same.size() < 5) same.push_back(id);
    if (home16(id) == ((target + 1) & 15u) && next.size() < 3) next.push_back(id);
  }
  JobPool pool;
  for (std::size_t victim = 0; victim < same.size() + next.size(); ++victim) {
    JobIndex index;
    std::vector<std::uint64_t> all;
    // Interleave insertions so runs mix.
    for (std::size_t i = 0; i < 5; ++i) {
      all.push_back(same[i]);
      if (i < 3) all.push_back(next[i]);
    }
    for (std::uint64_t id : all) index.insert(pool.get(id));
    const std::uint64_t gone = victim < 5 ? same[victim] : next[victim - 5];
    SCOPED_TRACE("erasing " + std::to_string(gone));
    ASSERT_TRUE(index.erase(gone));
    for (std::uint64_t id : all) {
      if (id == gone) {
        EXPECT_EQ(index.find(id), nullptr);
      } else {
        EXPECT_EQ(index.find(id), pool.get(id)) << id;
      }
    }
    // Erase the rest one by one, checking everyone after each step.
    std::set<std::uint64_t> left(all.begin(), all.end());
    left.erase(gone);
    while (!left.empty()) {
      std::uint64_t id = *left.begin();
      ASSERT_TRUE(index.erase(id));
      left.erase(left.begin());
      for (std::uint64_t other : left) EXPECT_EQ(index.find(other), pool.get(other));
    }
    EXPECT_EQ(index.size(), 0u);
  }
}

TEST(JobIndex, RunsThatWrapAroundTheTableEndSurviveErase) {
  auto home16 = [](std::uint64_t id) {
    return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ULL) >> 32) & 15u;
  };
  std::vector<std::uint64_t> last_slot;
  std::vector<std::uint64_t> first_slot;
  for (std::uint64_t id = 1; last_slot.size() < 4 || first_slot.size() < 2; ++id) {
    if (home16(id) == 15u && last_slot.size() < 4) last_slot.push_back(id);
    if (home16(id) == 0u && first_slot.size() < 2) first_slot.push_back(id);
  }
  JobPool pool;
  for (std::size_t victim = 0; victim < 6; ++victim) {
    JobIndex index;
    std::vector<std::uint64_t> all = last_slot;
    all.insert(all.end(), first_slot.begin(), first_slot.end());
    for (std::uint64_t id : all) index.insert(pool.get(id));
    const std::uint64_t gone = all[victim];
    ASSERT_TRUE(index.erase(gone));
    for (std::uint64_t id : all)
      EXPECT_EQ(index.find(id), id == gone ? nullptr : pool.get(id)) << "victim " << gone;
  }
}

TEST(JobIndex, RandomInsertsAndErasesMatchASetModel) {
  std::mt19937_64 rng(0xBEA57A1CDull);
  JobPool pool;
  JobIndex index;
  std::set<std::uint64_t> model;
  // A key space small enough that erases often hit, large enough to grow
  // and shrink the table repeatedly.
  constexpr std::uint64_t kKeys = 20'000;
  for (int op = 0; op < 100'000; ++op) {
    // Phases bias towards growth then towards drain.
    const bool grow_phase = (op / 10'000) % 2 == 0;
    const std::uint64_t id = 1 + rng() % kKeys;
    const bool do_insert = (rng() % 100) < (grow_phase ? 70u : 30u);
    if (do_insert) {
      if (model.count(id) == 0) {
        index.insert(pool.get(id));
        model.insert(id);
      }
    } else {
      ASSERT_EQ(index.erase(id), model.erase(id) == 1) << "op " << op << " id " << id;
    }
    ASSERT_EQ(index.size(), model.size());
    // Spot checks every step, a full check now and then.
    const std::uint64_t probe = 1 + rng() % kKeys;
    ASSERT_EQ(index.find(probe) != nullptr, model.count(probe) == 1) << "op " << op;
    if (op % 5'000 == 0) {
      for (std::uint64_t k : model) ASSERT_EQ(index.find(k), pool.get(k)) << "op " << op;
      ASSERT_EQ(count_all(index), model.size());
    }
  }
  for (std::uint64_t k : model) ASSERT_EQ(index.find(k), pool.get(k));
  for (std::uint64_t k = 1; k <= kKeys; ++k)
    if (!model.count(k)) {
      ASSERT_EQ(index.find(k), nullptr) << k;
    }
}

TEST(JobIndex, StaysCorrectAfterShrinkingFromAMassErase) {
  JobPool pool;
  JobIndex index;
  constexpr std::uint64_t kN = 40'000;
  for (std::uint64_t id = 1; id <= kN; ++id) index.insert(pool.get(id));
  // Erase all but every 1000th id: the table shrinks several times.
  for (std::uint64_t id = 1; id <= kN; ++id)
    if (id % 1000 != 0) {
      ASSERT_TRUE(index.erase(id));
    }
  EXPECT_EQ(index.size(), kN / 1000);
  EXPECT_EQ(count_all(index), kN / 1000);
  for (std::uint64_t id = 1; id <= kN; ++id)
    ASSERT_EQ(index.find(id), id % 1000 == 0 ? pool.get(id) : nullptr) << id;
  // Down to nothing and back up again.
  for (std::uint64_t id = 1000; id <= kN; id += 1000) ASSERT_TRUE(index.erase(id));
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(count_all(index), 0u);
  for (std::uint64_t id = kN + 1; id <= kN + 5'000; ++id) index.insert(pool.get(id));
  for (std::uint64_t id = kN + 1; id <= kN + 5'000; ++id) ASSERT_EQ(index.find(id), pool.get(id));
  EXPECT_EQ(index.size(), 5'000u);
}

TEST(JobIndex, ReinsertingAnErasedIdWorks) {
  JobPool pool;
  JobIndex index;
  for (int round = 0; round < 100; ++round) {
    index.insert(pool.get(5));
    ASSERT_EQ(index.find(5), pool.get(5));
    ASSERT_TRUE(index.erase(5));
    ASSERT_EQ(index.find(5), nullptr);
  }
  EXPECT_EQ(index.size(), 0u);
}

}  // namespace
}  // namespace beanstalkd
