// A binary min-heap of pointers whose elements remember their own position
// (through `IndexOf`), so any element can be removed or re-keyed in
// O(log n). Used for ready jobs, delayed jobs, TTR deadlines, paused tubes
// and waiting connections' timeouts.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

#include "beanstalkd/vector_room.h"

namespace beanstalkd {

// An element's position in a heap. 32 bits, since every job carries two of
// them and four billion elements is more than memory could hold.
using HeapIndex = std::uint32_t;
inline constexpr HeapIndex kNotInHeap = UINT32_MAX;

// Less(a, b): a comes out before b.
// IndexOf(e): a reference to e's HeapIndex slot for this heap.
template <typename T, typename Less, typename IndexOf>
class IntrusiveHeap {
 public:
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  T* top() const { return items_.empty() ? nullptr : items_.front(); }
  T* at(std::size_t i) const { return items_[i]; }

  std::size_t room() const { return items_.capacity(); }
  // Makes room for `n` elements (growing by doubling), so that pushes up to
  // that size cannot fail. Throws std::bad_alloc with the heap unchanged.
  void make_room(std::size_t n) { beanstalkd::make_room(items_, n); }
  // Gives back room beyond twice what is needed, once it is four times
  // that: `keep` elements (at least the heap's size) must still fit. The
  // heap never shrinks otherwise, so removing never allocates. Without
  // memory for the smaller copy it keeps its room.
  void give_back_room(std::size_t keep) noexcept {
    keep = std::max({keep, items_.size(), std::size_t{32}});
    if (items_.capacity() < 4 * keep) return;
    try {
      std::vector<T*> smaller;
      smaller.reserve(2 * keep);
      smaller.assign(items_.begin(), items_.end());
      items_.swap(smaller);
    } catch (const std::bad_alloc&) {
    }
  }

  void push(T* item) {
    assert(IndexOf{}(*item) == kNotInHeap && items_.size() < kNotInHeap);
    items_.push_back(item);
    place(items_.size() - 1);
    sift_up(items_.size() - 1);
  }

  T* pop() {
    if (items_.empty()) return nullptr;
    T* item = items_.front();
    remove(item);
    return item;
  }

  // Precondition: `item` is in this heap.
  void remove(T* item) {
    std::size_t i = IndexOf{}(*item);
    assert(i < items_.size() && items_[i] == item);
    std::size_t last = items_.size() - 1;
    if (i != last) {
      items_[i] = items_[last];
      place(i);
    }
    items_.pop_back();
    IndexOf{}(*item) = kNotInHeap;
    if (i < items_.size()) update(items_[i]);  // the moved element may go either way
  }

  // Call after changing the key of `item` (which is in this heap).
  void update(T* item) {
    std::size_t i = IndexOf{}(*item);
    sift_up(i);
    sift_down(IndexOf{}(*item));
  }

 private:
  void place(std::size_t i) { IndexOf{}(*items_[i]) = static_cast<HeapIndex>(i); }

  void swap_at(std::size_t a, std::size_t b) {
    std::swap(items_[a], items_[b]);
    place(a);
    place(b);
  }

  void sift_up(std::size_t i) {
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!Less{}(*items_[i], *items_[parent])) break;
      swap_at(i, parent);
      i = parent;
    }
  }

  void sift_down(std::size_t i) {
    const std::size_t n = items_.size();
    for (;;) {
      std::size_t left = 2 * i + 1;
      if (left >= n) break;
      std::size_t best = left;
      if (left + 1 < n && Less{}(*items_[left + 1], *items_[left])) best = left + 1;
      if (!Less{}(*items_[best], *items_[i])) break;
      swap_at(i, best);
      i = best;
    }
  }

  std::vector<T*> items_;
};

}  // namespace beanstalkd
