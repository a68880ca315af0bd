// The intrusive doubly linked list: FIFO order, O(1) removal from the
// middle, an element in two lists at once, and a randomized comparison
// against std::list.
#include "beanstalkd/intrusive_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <list>
#include <random>
#include <vector>

namespace beanstalkd {
namespace {

struct Node {
  int value = 0;
  ListLink<Node> a;
  ListLink<Node> b;
};

using ListA = IntrusiveList<Node, &Node::a>;
using ListB = IntrusiveList<Node, &Node::b>;

template <typename List>
std::vector<int> values(const List& list) {
  std::vector<int> out;
  for (Node* n = list.front(); n; n = list.next(n)) out.push_back(n->value);
  return out;
}

TEST(IntrusiveList, EmptyListHasNoFrontOrBack) {
  ListA list;
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.size(), 0u);
  EXPECT_EQ(list.front(), nullptr);
  EXPECT_EQ(list.back(), nullptr);
  EXPECT_EQ(list.pop_front(), nullptr);
}

TEST(IntrusiveList, PushBackKeepsInsertionOrder) {
  std::vector<Node> nodes(5);
  ListA list;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].value = static_cast<int>(i);
    list.push_back(&nodes[i]);
    EXPECT_TRUE(list.contains(&nodes[i]));
  }
  EXPECT_EQ(list.size(), 5u);
  EXPECT_EQ(list.front(), &nodes[0]);
  EXPECT_EQ(list.back(), &nodes[4]);
  EXPECT_EQ(values(list), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(list.next(&nodes[4]), nullptr);
}

TEST(IntrusiveList, PopFrontIsFifo) {
  std::vector<Node> nodes(3);
  ListA list;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].value = static_cast<int>(i);
    list.push_back(&nodes[i]);
  }
  EXPECT_EQ(list.pop_front(), &nodes[0]);
  EXPECT_FALSE(list.contains(&nodes[0]));
  EXPECT_EQ(list.pop_front(), &nodes[1]);
  EXPECT_EQ(list.pop_front(), &nodes[2]);
  EXPECT_TRUE(list.empty());
}

TEST(IntrusiveList, RemoveFromTheMiddleUnlinksOnlyThatElement) {
  std::vector<Node> nodes(5);
  ListA list;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].value = static_cast<int>(i);
    list.push_back(&nodes[i]);
  }
  list.remove(&nodes[2]);
  EXPECT_FALSE(list.contains(&nodes[2]));
  EXPECT_EQ(list.size(), 4u);
  EXPECT_EQ(values(list), (std::vector<int>{0, 1, 3, 4}));
  list.remove(&nodes[0]);
  list.remove(&nodes[4]);
  EXPECT_EQ(values(list), (std::vector<int>{1, 3}));
  EXPECT_EQ(list.front(), &nodes[1]);
  EXPECT_EQ(list.back(), &nodes[3]);
}

TEST(IntrusiveList, ASingleElementIsContainedAndRemovable) {
  Node node;
  ListA list;
  list.push_back(&node);
  EXPECT_TRUE(list.contains(&node));
  EXPECT_EQ(list.front(), &node);
  EXPECT_EQ(list.back(), &node);
  list.remove(&node);
  EXPECT_FALSE(list.contains(&node));
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.back(), nullptr);
}

TEST(IntrusiveList, RemovedElementMayBeLinkedAgainAtTheBack) {
  std::vector<Node> nodes(3);
  ListA list;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].value = static_cast<int>(i);
    list.push_back(&nodes[i]);
  }
  list.remove(&nodes[0]);
  list.push_back(&nodes[0]);
  EXPECT_EQ(values(list), (std::vector<int>{1, 2, 0}));
}

TEST(IntrusiveList, AnElementCanBeInTwoListsThroughTwoNodes) {
  std::vector<Node> nodes(4);
  ListA la;
  ListB lb;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].value = static_cast<int>(i);
    la.push_back(&nodes[i]);
  }
  for (std::size_t i = nodes.size(); i-- > 0;) lb.push_back(&nodes[i]);
  la.remove(&nodes[1]);
  EXPECT_EQ(values(la), (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(values(lb), (std::vector<int>{3, 2, 1, 0}));
  lb.remove(&nodes[3]);
  EXPECT_EQ(values(la), (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(values(lb), (std::vector<int>{2, 1, 0}));
}

TEST(IntrusiveList, RandomOperationsMatchAStdList) {
  std::mt19937 rng(777);
  constexpr std::size_t kNodes = 500;
  std::vector<Node> nodes(kNodes);
  for (std::size_t i = 0; i < kNodes; ++i) nodes[i].value = static_cast<int>(i);
  ListA list;
  std::list<Node*> model;
  for (int op = 0; op < 50'000; ++op) {
    Node* n = &nodes[rng() % kNodes];
    switch (rng() % 4) {
      case 0:
      case 1:
        if (!list.contains(n)) {
          list.push_back(n);
          model.push_back(n);
        }
        break;
      case 2:
        if (list.contains(n)) {
          list.remove(n);
          model.remove(n);
        }
        break;
      case 3: {
        Node* popped = list.pop_front();
        if (model.empty()) {
          ASSERT_EQ(popped, nullptr);
        } else {
          ASSERT_EQ(popped, model.front());
          model.pop_front();
        }
        break;
      }
    }
    ASSERT_EQ(list.size(), model.size());
    ASSERT_EQ(list.front(), model.empty() ? nullptr : model.front());
    ASSERT_EQ(list.back(), model.empty() ? nullptr : model.back());
    if (op % 500 == 0) {
      std::vector<Node*> walked;
      for (Node* x = list.front(); x; x = list.next(x)) walked.push_back(x);
      ASSERT_TRUE(std::equal(walked.begin(), walked.end(), model.begin(), model.end()));
    }
  }
}

}  // namespace
}  // namespace beanstalkd
