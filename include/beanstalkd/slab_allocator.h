// Equal-sized slots carved from 256 KiB blocks of their own, for objects
// that are many and small: the header-only jobs whose bodies stay in the
// write-ahead log, and the jobs' activity records. malloc gives each such
// 64-byte job an 80-byte chunk (its 8-byte size field, rounded to 16); here
// it takes 64 bytes, 15 MiB less for a million jobs.
//
// Each block keeps its own free slots, so a block whose last slot is freed
// goes back to the system (one empty block is kept, so that a queue cycling
// one job does not map and unmap a block per job): a drained queue gives
// its memory back. Blocks are aligned to their size, so a slot finds its
// block by masking its address. Not thread-safe: the event loop's alone.
#pragma once

#include <cstddef>
#include <cstdint>

namespace beanstalkd {

class SlabAllocator {
 public:
  static constexpr std::size_t kBlockSize = std::size_t{256} * 1024;
  // Slots are multiples of this, and aligned to it: enough for objects of
  // 64-bit fields, where malloc rounds to 16 after its 8-byte size field.
  static constexpr std::size_t kSlotAlignment = 8;

  explicit SlabAllocator(std::size_t slot_size);
  ~SlabAllocator();
  SlabAllocator(const SlabAllocator&) = delete;
  SlabAllocator& operator=(const SlabAllocator&) = delete;

  // nullptr when the system has no memory for a new block.
  void* allocate();
  // Maps a spare block unless `n` slots (at most slots_per_block()) are
  // free already, so the next `n` allocations cannot fail. False when the
  // system has no memory for it.
  bool ensure_free_slots(std::size_t n);
  void free(void* slot);

  std::size_t slot_size() const { return slot_size_; }
  std::size_t slots_per_block() const { return slots_per_block_; }
  std::size_t blocks() const { return blocks_; }  // mapped, the spare included
  std::size_t live_slots() const { return live_; }

 private:
  struct Block;
  struct FreeSlot {
    FreeSlot* next;
  };

  Block* block_of(void* slot) const;
  Block* map_block();
  void unmap_block(Block* block);
  void link_available(Block* block);
  void unlink_available(Block* block);

  std::size_t slot_size_;
  std::size_t slots_per_block_;
  Block* available_ = nullptr;  // blocks with a free slot, the spare excluded
  Block* spare_ = nullptr;      // one empty block kept mapped
  std::size_t blocks_ = 0;
  std::size_t live_ = 0;
};

}  // namespace beanstalkd
