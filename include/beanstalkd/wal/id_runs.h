// A list of job ids kept as runs of consecutive ids. The log remembers which
// jobs had their full record in each file (compaction copies them out); puts
// come in id order, so a file's ids are mostly one long run, and a million
// recovered jobs take a few words instead of eight bytes each. An id that
// starts no run takes one word, as in a plain vector, so scattered ids (the
// survivors compaction copies) cost no more than before.
#pragma once

#include <cassert>
#include <cstdint>
#include <vector>

#include "beanstalkd/vector_room.h"

namespace beanstalkd::wal {

class IdRuns {
 public:
  void push_back(std::uint64_t id) {
    assert((id & kRunFlag) == 0);  // ids come from a counter far below 2^63
    if (last_is_run_) {
      std::uint64_t& count = words_.back();
      if ((words_[words_.size() - 2] & ~kRunFlag) + count == id) {
        ++count;
        return;
      }
    } else if (!words_.empty() && words_.back() + 1 == id) {
      words_.back() |= kRunFlag;  // the single id becomes a run of two
      words_.push_back(2);
      last_is_run_ = true;
      return;
    }
    words_.push_back(id);
    last_is_run_ = false;
  }

  // Room for the next push_back, which then cannot fail for lack of memory
  // (Wal::make_room_for_record). Throws std::bad_alloc, changing nothing.
  void make_room_for_one() { make_room(words_, words_.size() + 1); }

  template <typename Visit>
  void for_each(Visit&& visit) const {
    for (std::size_t i = 0; i < words_.size(); ++i) {
      if ((words_[i] & kRunFlag) == 0) {
        visit(words_[i]);
        continue;
      }
      const std::uint64_t first = words_[i] & ~kRunFlag;
      const std::uint64_t count = words_[++i];
      for (std::uint64_t k = 0; k < count; ++k) visit(first + k);
    }
  }

  bool empty() const { return words_.empty(); }
  // Eight-byte words in use: one per lone id, two per run.
  std::size_t words() const { return words_.size(); }

 private:
  // A word with this bit is a run's first id; the next word is its length.
  static constexpr std::uint64_t kRunFlag = std::uint64_t{1} << 63;
  std::vector<std::uint64_t> words_;
  bool last_is_run_ = false;
};

}  // namespace beanstalkd::wal
