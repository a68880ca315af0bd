#include "beanstalkd/slab_allocator.h"

#include <sys/mman.h>

#include <cassert>
#include <new>

#include <sanitizer/asan_interface.h>

namespace beanstalkd {

// At the start of each block, followed by its slots.
struct SlabAllocator::Block {
  Block* prev = nullptr;  // in available_
  Block* next = nullptr;
  FreeSlot* free_slots = nullptr;  // freed slots, reused first
  std::size_t carved = 0;          // slots handed out from the fresh end so far
  std::size_t live = 0;
  bool available = false;  // in available_

  char* slots() { return reinterpret_cast<char*>(this) + kHeaderSize; }
  static constexpr std::size_t kHeaderSize = 64;
};

SlabAllocator::SlabAllocator(std::size_t slot_size)
    : slot_size_((slot_size + kSlotAlignment - 1) / kSlotAlignment * kSlotAlignment),
      slots_per_block_((kBlockSize - Block::kHeaderSize) / slot_size_) {
  static_assert(sizeof(Block) <= Block::kHeaderSize);
  assert(slot_size_ >= sizeof(FreeSlot) && slots_per_block_ > 0);
}

SlabAllocator::~SlabAllocator() {
  // Blocks still holding slots stay mapped: their owners still use them.
  if (spare_) unmap_block(spare_);
}

SlabAllocator::Block* SlabAllocator::block_of(void* slot) const {
  return reinterpret_cast<Block*>(reinterpret_cast<std::uintptr_t>(slot) & ~(kBlockSize - 1));
}

// mmap aligns to pages only: map twice the size and give back the parts
// before and after the aligned block.
SlabAllocator::Block* SlabAllocator::map_block() {
  void* raw =
      ::mmap(nullptr, 2 * kBlockSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + kBlockSize - 1) & ~(kBlockSize - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  const std::uintptr_t end = start + 2 * kBlockSize;
  if (end > aligned + kBlockSize)
    ::munmap(reinterpret_cast<void*>(aligned + kBlockSize), end - (aligned + kBlockSize));
  ++blocks_;
  auto* block = new (reinterpret_cast<void*>(aligned)) Block{};
  ASAN_POISON_MEMORY_REGION(block->slots(), kBlockSize - Block::kHeaderSize);
  return block;
}

void SlabAllocator::unmap_block(Block* block) {
  ASAN_UNPOISON_MEMORY_REGION(block->slots(), kBlockSize - Block::kHeaderSize);
  ::munmap(block, kBlockSize);
  --blocks_;
}

void SlabAllocator::link_available(Block* block) {
  block->prev = nullptr;
  block->next = available_;
  if (available_) available_->prev = block;
  available_ = block;
  block->available = true;
}

void SlabAllocator::unlink_available(Block* block) {
  if (block->prev) {
    block->prev->next = block->next;
  } else {
    available_ = block->next;
  }
  if (block->next) block->next->prev = block->prev;
  block->prev = block->next = nullptr;
  block->available = false;
}

void* SlabAllocator::allocate() {
  Block* block = available_;
  if (!block) {
    block = spare_ ? spare_ : map_block();
    if (!block) return nullptr;
    spare_ = nullptr;
    link_available(block);
  }
  void* slot = nullptr;
  if (block->free_slots) {
    FreeSlot* free_slot = block->free_slots;
    ASAN_UNPOISON_MEMORY_REGION(free_slot, slot_size_);
    block->free_slots = free_slot->next;
    slot = free_slot;
  } else {
    slot = block->slots() + block->carved * slot_size_;
    ++block->carved;
    ASAN_UNPOISON_MEMORY_REGION(slot, slot_size_);
  }
  ++block->live;
  ++live_;
  if (!block->free_slots && block->carved == slots_per_block_) unlink_available(block);
  return slot;
}

bool SlabAllocator::ensure_free_slots(std::size_t n) {
  assert(n <= slots_per_block_);
  // A spare is counted in blocks_ and has slots_per_block_ free slots, so
  // fewer than n free means there is none.
  if (blocks_ * slots_per_block_ - live_ >= n) return true;
  spare_ = map_block();
  return spare_ != nullptr;
}

void SlabAllocator::free(void* slot) {
  Block* block = block_of(slot);
  assert(block->live > 0);
  --block->live;
  --live_;
  if (block->live == 0) {
    if (block->available) unlink_available(block);
    if (spare_) {
      unmap_block(block);
      return;
    }
    // Kept as the spare, its slots all fresh again.
    block->free_slots = nullptr;
    block->carved = 0;
    ASAN_POISON_MEMORY_REGION(slot, slot_size_);
    spare_ = block;
    return;
  }
  auto* free_slot = static_cast<FreeSlot*>(slot);
  free_slot->next = block->free_slots;
  block->free_slots = free_slot;
  ASAN_POISON_MEMORY_REGION(slot, slot_size_);
  if (!block->available) link_available(block);
}

}  // namespace beanstalkd
