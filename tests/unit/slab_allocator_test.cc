#include "beanstalkd/slab_allocator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <vector>

namespace beanstalkd {
namespace {

constexpr std::size_t kSlot = 104;  // a header-only job's

TEST(SlabAllocator, SlotsAreExactSizedAlignedAndDistinct) {
  SlabAllocator slab(kSlot);
  EXPECT_EQ(slab.slot_size(), kSlot);
  EXPECT_EQ(SlabAllocator(100).slot_size(), 104u);  // rounded to 8
  const std::size_t count = slab.slots_per_block() * 3 + 7;
  std::vector<char*> slots;
  for (std::size_t i = 0; i < count; ++i) {
    auto* slot = static_cast<char*>(slab.allocate());
    ASSERT_NE(slot, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(slot) % SlabAllocator::kSlotAlignment, 0u);
    std::memset(slot, static_cast<int>(i), kSlot);
    slots.push_back(slot);
  }
  EXPECT_EQ(slab.blocks(), 4u);
  EXPECT_EQ(slab.live_slots(), count);
  // No two overlap: each still holds what was written into it.
  for (std::size_t i = 0; i < count; ++i) {
    ASSERT_EQ(slots[i][0], static_cast<char>(i)) << i;
    ASSERT_EQ(slots[i][kSlot - 1], static_cast<char>(i)) << i;
  }
  std::sort(slots.begin(), slots.end());
  for (std::size_t i = 1; i < slots.size(); ++i) ASSERT_GE(slots[i] - slots[i - 1], 104);
  for (char* slot : slots) slab.free(slot);
  EXPECT_EQ(slab.live_slots(), 0u);
}

// Blocks go back to the system as they empty, one kept as a spare; a
// freed slot is reused before fresh ones.
TEST(SlabAllocator, EmptyBlocksAreUnmappedButOne) {
  SlabAllocator slab(kSlot);
  std::vector<void*> slots;
  for (std::size_t i = 0; i < slab.slots_per_block() * 10; ++i) slots.push_back(slab.allocate());
  EXPECT_EQ(slab.blocks(), 10u);
  // Oldest first, as a queue drains.
  for (std::size_t i = 0; i < slab.slots_per_block() * 5; ++i) slab.free(slots[i]);
  EXPECT_EQ(slab.blocks(), 6u);  // five full ones and the spare
  for (std::size_t i = slab.slots_per_block() * 5; i < slots.size(); ++i) slab.free(slots[i]);
  EXPECT_EQ(slab.blocks(), 1u);
  // One job cycling reuses the spare without mapping anything.
  for (int i = 0; i < 1000; ++i) {
    void* slot = slab.allocate();
    ASSERT_NE(slot, nullptr);
    slab.free(slot);
    ASSERT_EQ(slab.blocks(), 1u);
  }
  void* a = slab.allocate();
  void* b = slab.allocate();
  slab.free(a);
  EXPECT_EQ(slab.allocate(), a);
  slab.free(a);
  slab.free(b);
}

// Room made ahead maps at most one spare block, and only when the free
// slots fall short.
TEST(SlabAllocator, FreeSlotsEnsuredAheadMapOneSpareWhenShort) {
  SlabAllocator slab(kSlot);
  EXPECT_EQ(slab.blocks(), 0u);
  ASSERT_TRUE(slab.ensure_free_slots(64));
  EXPECT_EQ(slab.blocks(), 1u);
  std::vector<void*> slots;
  while (slots.size() < slab.slots_per_block() - 64) slots.push_back(slab.allocate());
  ASSERT_TRUE(slab.ensure_free_slots(64));
  EXPECT_EQ(slab.blocks(), 1u);  // exactly 64 still free
  slots.push_back(slab.allocate());
  ASSERT_TRUE(slab.ensure_free_slots(64));
  EXPECT_EQ(slab.blocks(), 2u);
  // The next 64 come from the blocks already mapped.
  for (int i = 0; i < 64; ++i) slots.push_back(slab.allocate());
  EXPECT_EQ(slab.blocks(), 2u);
  for (void* slot : slots) slab.free(slot);
  EXPECT_EQ(slab.live_slots(), 0u);
}

// Random churn against a model: every live slot keeps its contents, and
// the counts add up.
TEST(SlabAllocator, RandomChurnKeepsEveryLiveSlotIntact) {
  SlabAllocator slab(kSlot);
  std::mt19937_64 rng(7);
  std::vector<std::pair<std::uint64_t*, std::uint64_t>> live;
  for (int step = 0; step < 200000; ++step) {
    const bool grow = live.empty() || rng() % 100 < (step < 100000 ? 60 : 35);
    if (grow) {
      auto* slot = static_cast<std::uint64_t*>(slab.allocate());
      ASSERT_NE(slot, nullptr);
      const std::uint64_t tag = rng();
      for (std::size_t w = 0; w < kSlot / 8; ++w) slot[w] = tag + w;
      live.emplace_back(slot, tag);
    } else {
      const std::size_t victim = rng() % live.size();
      auto [slot, tag] = live[victim];
      for (std::size_t w = 0; w < kSlot / 8; ++w) ASSERT_EQ(slot[w], tag + w) << step;
      slab.free(slot);
      live[victim] = live.back();
      live.pop_back();
    }
  }
  EXPECT_EQ(slab.live_slots(), live.size());
  const std::size_t least_blocks =
      (live.size() + slab.slots_per_block() - 1) / slab.slots_per_block();
  EXPECT_GE(slab.blocks(), least_blocks);
  for (auto [slot, tag] : live) {
    for (std::size_t w = 0; w < kSlot / 8; ++w) ASSERT_EQ(slot[w], tag + w);
    slab.free(slot);
  }
  EXPECT_EQ(slab.live_slots(), 0u);
  EXPECT_EQ(slab.blocks(), 1u);
}

}  // namespace
}  // namespace beanstalkd
