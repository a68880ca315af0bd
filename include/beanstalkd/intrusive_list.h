// A doubly linked list whose links live inside the elements, so that an
// element can be unlinked from the middle in O(1) without knowing which list
// holds it, and linking never allocates. The links point at the elements
// themselves (as BSD's <sys/queue.h> TAILQ does), so a link costs two
// pointers and needs no sentinel node inside the element.
#pragma once

#include <cassert>
#include <cstddef>

namespace beanstalkd {

template <typename T>
struct ListLink {
  T* prev = nullptr;
  T* next = nullptr;
};

// `Member` is a pointer to the ListLink field of T that this list uses.
template <typename T, ListLink<T> T::*Member>
class IntrusiveList {
 public:
  IntrusiveList() = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_ == nullptr; }
  std::size_t size() const { return size_; }

  T* front() const { return head_; }
  T* back() const { return tail_; }
  // Whether `item` is in this list, given that it is in no other list
  // through the same link.
  bool contains(const T* item) const {
    const ListLink<T>& link = item->*Member;
    return link.prev != nullptr || link.next != nullptr || head_ == item;
  }
  // The element after `item`, or nullptr at the end.
  T* next(T* item) const { return (item->*Member).next; }

  void push_back(T* item) {
    ListLink<T>& link = item->*Member;
    assert(link.prev == nullptr && link.next == nullptr && head_ != item);
    link.prev = tail_;
    link.next = nullptr;
    if (tail_ != nullptr) {
      (tail_->*Member).next = item;
    } else {
      head_ = item;
    }
    tail_ = item;
    ++size_;
  }

  // Precondition: `item` is in this list.
  void remove(T* item) {
    ListLink<T>& link = item->*Member;
    assert(link.prev != nullptr || head_ == item);
    if (link.prev != nullptr) {
      (link.prev->*Member).next = link.next;
    } else {
      head_ = link.next;
    }
    if (link.next != nullptr) {
      (link.next->*Member).prev = link.prev;
    } else {
      tail_ = link.prev;
    }
    link.prev = link.next = nullptr;
    --size_;
  }

  T* pop_front() {
    T* item = front();
    if (item) remove(item);
    return item;
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace beanstalkd
