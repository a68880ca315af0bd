// The intrusive min-heap: ordering, removal from anywhere, re-keying, and a
// randomized comparison against std::multiset.
#include "beanstalkd/intrusive_heap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace beanstalkd {
namespace {

struct Item {
  int key = 0;
  int seq = 0;  // tie-breaker, like a job id
  HeapIndex slot = kNotInHeap;
};

struct ItemLess {
  bool operator()(const Item& a, const Item& b) const {
    return a.key != b.key ? a.key < b.key : a.seq < b.seq;
  }
};
struct ItemSlot {
  HeapIndex& operator()(Item& i) const { return i.slot; }
};

using Heap = IntrusiveHeap<Item, ItemLess, ItemSlot>;

// Every element's recorded slot points back at it, and no parent comes
// after its child.
void expect_heap_valid(const Heap& heap) {
  for (std::size_t i = 0; i < heap.size(); ++i) {
    EXPECT_EQ(heap.at(i)->slot, i);
    if (i > 0) {
      EXPECT_FALSE(ItemLess{}(*heap.at(i), *heap.at((i - 1) / 2))) << "at " << i;
    }
  }
}

std::vector<int> drain(Heap& heap) {
  std::vector<int> keys;
  while (Item* item = heap.pop()) {
    EXPECT_EQ(item->slot, kNotInHeap);
    keys.push_back(item->key);
  }
  return keys;
}

TEST(IntrusiveHeap, EmptyHeapHasNoTop) {
  Heap heap;
  EXPECT_TRUE(heap.empty());
  EXPECT_EQ(heap.size(), 0u);
  EXPECT_EQ(heap.top(), nullptr);
  EXPECT_EQ(heap.pop(), nullptr);
}

TEST(IntrusiveHeap, PopsInKeyOrder) {
  std::vector<Item> items(8);
  const int keys[] = {5, 3, 8, 1, 9, 2, 7, 4};
  Heap heap;
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].key = keys[i];
    items[i].seq = static_cast<int>(i);
    heap.push(&items[i]);
    expect_heap_valid(heap);
  }
  EXPECT_EQ(heap.size(), 8u);
  EXPECT_EQ(heap.top()->key, 1);
  EXPECT_EQ(drain(heap), (std::vector<int>{1, 2, 3, 4, 5, 7, 8, 9}));
  EXPECT_TRUE(heap.empty());
}

TEST(IntrusiveHeap, EqualKeysComeOutInTieBreakOrder) {
  std::vector<Item> items(6);
  Heap heap;
  for (std::size_t i = items.size(); i-- > 0;) {
    items[i].key = 1;
    items[i].seq = static_cast<int>(i);
    heap.push(&items[i]);
  }
  for (std::size_t i = 0; i < items.size(); ++i) EXPECT_EQ(heap.pop(), &items[i]);
}

TEST(IntrusiveHeap, RemoveFromTheMiddleKeepsOrder) {
  std::vector<Item> items(10);
  Heap heap;
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].key = static_cast<int>(i) * 10;
    heap.push(&items[i]);
  }
  heap.remove(&items[4]);
  heap.remove(&items[7]);
  EXPECT_EQ(items[4].slot, kNotInHeap);
  EXPECT_EQ(items[7].slot, kNotInHeap);
  expect_heap_valid(heap);
  EXPECT_EQ(drain(heap), (std::vector<int>{0, 10, 20, 30, 50, 60, 80, 90}));
}

TEST(IntrusiveHeap, RemoveTheTopAndTheLast) {
  std::vector<Item> items(5);
  Heap heap;
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].key = static_cast<int>(i);
    heap.push(&items[i]);
  }
  heap.remove(heap.top());
  heap.remove(heap.at(heap.size() - 1));
  expect_heap_valid(heap);
  EXPECT_EQ(heap.size(), 3u);
}

TEST(IntrusiveHeap, RemovedElementMayBePushedAgain) {
  Item a{1, 0};
  Heap heap;
  heap.push(&a);
  heap.remove(&a);
  EXPECT_TRUE(heap.empty());
  heap.push(&a);
  EXPECT_EQ(heap.top(), &a);
}

// Removing an element whose replacement (the last element) is smaller than
// the removed one's parent requires sifting the replacement up.
TEST(IntrusiveHeap, RemoveCanMoveTheReplacementUp) {
  // Layout:        0
  //           10        1
  //         11  12    2   3
  // Removing 11 moves the last element (3) into its slot, under 10.
  std::vector<Item> items(7);
  const int keys[] = {0, 10, 1, 11, 12, 2, 3};
  Heap heap;
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].key = keys[i];
    heap.push(&items[i]);
  }
  ASSERT_EQ(items[3].slot, 3u);  // built in that layout
  heap.remove(&items[3]);
  expect_heap_valid(heap);
  EXPECT_EQ(drain(heap), (std::vector<int>{0, 1, 2, 3, 10, 12}));
}

TEST(IntrusiveHeap, UpdateAfterLoweringAKeyMovesItUp) {
  std::vector<Item> items(6);
  Heap heap;
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].key = static_cast<int>(i + 1) * 10;
    heap.push(&items[i]);
  }
  items[5].key = 5;
  heap.update(&items[5]);
  expect_heap_valid(heap);
  EXPECT_EQ(heap.top(), &items[5]);
}

TEST(IntrusiveHeap, UpdateAfterRaisingAKeyMovesItDown) {
  std::vector<Item> items(6);
  Heap heap;
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].key = static_cast<int>(i + 1) * 10;
    heap.push(&items[i]);
  }
  items[0].key = 1000;
  heap.update(&items[0]);
  expect_heap_valid(heap);
  EXPECT_EQ(drain(heap), (std::vector<int>{20, 30, 40, 50, 60, 1000}));
}

TEST(IntrusiveHeap, RandomOperationsMatchAMultiset) {
  std::mt19937 rng(12345);
  constexpr std::size_t kItems = 2000;
  std::vector<Item> items(kItems);
  for (std::size_t i = 0; i < kItems; ++i) items[i].seq = static_cast<int>(i);
  std::multiset<std::pair<int, int>> model;  // (key, seq)
  std::vector<std::size_t> in, out;          // indices into items
  for (std::size_t i = 0; i < kItems; ++i) out.push_back(i);
  Heap heap;

  auto take = [&](std::vector<std::size_t>& v, std::size_t pos) {
    std::size_t idx = v[pos];
    v[pos] = v.back();
    v.pop_back();
    return idx;
  };
  auto position_in = [&](std::size_t idx) {
    return static_cast<std::size_t>(std::find(in.begin(), in.end(), idx) - in.begin());
  };

  for (int op = 0; op < 60'000; ++op) {
    const auto choice = rng() % 10;
    if (choice < 4 && !out.empty()) {  // push
      std::size_t idx = take(out, rng() % out.size());
      items[idx].key = static_cast<int>(rng() % 500);
      heap.push(&items[idx]);
      model.insert({items[idx].key, items[idx].seq});
      in.push_back(idx);
    } else if (choice < 6 && !in.empty()) {  // pop
      Item* top = heap.pop();
      ASSERT_NE(top, nullptr);
      ASSERT_EQ(std::make_pair(top->key, top->seq), *model.begin());
      model.erase(model.begin());
      std::size_t idx = static_cast<std::size_t>(top - items.data());
      in.erase(in.begin() + static_cast<std::ptrdiff_t>(position_in(idx)));
      out.push_back(idx);
    } else if (choice < 8 && !in.empty()) {  // remove from anywhere
      std::size_t idx = take(in, rng() % in.size());
      heap.remove(&items[idx]);
      ASSERT_EQ(items[idx].slot, kNotInHeap);
      model.erase(model.find({items[idx].key, items[idx].seq}));
      out.push_back(idx);
    } else if (!in.empty()) {  // re-key
      std::size_t idx = in[rng() % in.size()];
      model.erase(model.find({items[idx].key, items[idx].seq}));
      items[idx].key = static_cast<int>(rng() % 500);
      heap.update(&items[idx]);
      model.insert({items[idx].key, items[idx].seq});
    }
    ASSERT_EQ(heap.size(), model.size());
    if (!model.empty()) {
      ASSERT_EQ(std::make_pair(heap.top()->key, heap.top()->seq), *model.begin());
    } else {
      ASSERT_EQ(heap.top(), nullptr);
    }
    if (op % 1000 == 0) {
      expect_heap_valid(heap);
      if (HasFailure()) return;
    }
  }
  // Drain in order.
  for (const auto& expect : model) {
    Item* top = heap.pop();
    ASSERT_NE(top, nullptr);
    EXPECT_EQ(std::make_pair(top->key, top->seq), expect);
  }
  EXPECT_TRUE(heap.empty());
}

TEST(IntrusiveHeap, GrowsAndShrinksThroughManyElements) {
  constexpr std::size_t kN = 10'000;
  std::vector<Item> items(kN);
  Heap heap;
  for (std::size_t i = 0; i < kN; ++i) {
    items[i].key = static_cast<int>((i * 7919) % kN);
    items[i].seq = static_cast<int>(i);
    heap.push(&items[i]);
  }
  const std::size_t room = heap.room();
  // Removing never gives room back (so it never allocates) ...
  while (heap.size() > 10) heap.remove(heap.at(heap.size() / 2));
  EXPECT_EQ(heap.room(), room);
  // ... give_back_room does, down to twice what must still fit.
  heap.give_back_room(100);
  EXPECT_EQ(heap.room(), 200u);
  heap.give_back_room(60);  // 200 is less than four times 60: kept
  EXPECT_EQ(heap.room(), 200u);
  expect_heap_valid(heap);
  std::vector<int> rest = drain(heap);
  EXPECT_TRUE(std::is_sorted(rest.begin(), rest.end()));
  EXPECT_EQ(rest.size(), 10u);
}

TEST(IntrusiveHeap, RoomMadeAheadTakesPushesWithoutGrowing) {
  std::vector<Item> items(100);
  Heap heap;
  heap.make_room(70);
  const std::size_t room = heap.room();
  EXPECT_GE(room, 70u);
  for (std::size_t i = 0; i < 70; ++i) {
    items[i].key = static_cast<int>(i);
    heap.push(&items[i]);
  }
  EXPECT_EQ(heap.room(), room);
  heap.make_room(71);  // grows by doubling, not by one
  EXPECT_GE(heap.room(), 2 * room);
}

}  // namespace
}  // namespace beanstalkd
