// A doubly linked list whose nodes live inside the elements, so that an
// element can be unlinked from the middle in O(1) without knowing which list
// holds it, and linking never allocates.
#pragma once

#include <cassert>
#include <cstddef>

namespace beanstalkd {

struct ListNode {
  ListNode* prev = nullptr;
  ListNode* next = nullptr;
  void* owner = nullptr;  // the element holding this node, set on insert
  bool linked() const { return next != nullptr; }
};

// `Member` is a pointer to the ListNode field of T that this list uses.
template <typename T, ListNode T::*Member>
class IntrusiveList {
 public:
  IntrusiveList() { head_.prev = head_.next = &head_; }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_.next == &head_; }
  std::size_t size() const { return size_; }

  T* front() const { return empty() ? nullptr : owner(head_.next); }
  T* back() const { return empty() ? nullptr : owner(head_.prev); }
  // The element after `item`, or nullptr at the end.
  T* next(T* item) const {
    ListNode* n = (item->*Member).next;
    return n == &head_ ? nullptr : owner(n);
  }

  void push_back(T* item) {
    ListNode& n = item->*Member;
    assert(!n.linked());
    n.owner = item;
    n.prev = head_.prev;
    n.next = &head_;
    head_.prev->next = &n;
    head_.prev = &n;
    ++size_;
  }

  // Precondition: `item` is in this list.
  void remove(T* item) {
    ListNode& n = item->*Member;
    assert(n.linked());
    n.prev->next = n.next;
    n.next->prev = n.prev;
    n.prev = n.next = nullptr;
    --size_;
  }

  T* pop_front() {
    T* item = front();
    if (item) remove(item);
    return item;
  }

 private:
  static T* owner(ListNode* node) { return static_cast<T*>(node->owner); }

  ListNode head_;
  std::size_t size_ = 0;
};

}  // namespace beanstalkd
