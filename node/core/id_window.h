// IdWindow: a table keyed by consecutive ids (1, 2, 3, ... never reused),
// such as a unit's PeerIds or the coordinator's operation ids.
//
// Entries are added in id order (each id exactly once, the next one) and
// erased in any order. The table is a ring buffer over the ids from the
// oldest entry still present to the newest one added: finding an id is an
// index computation, adding and erasing never allocate once the buffer has
// grown to the span, and the ids still present come out oldest first.
//
// Memory: one slot per id in that span, erased ones included, so the span
// (not the count of entries) bounds it: an entry that stays while many newer
// ones come and go holds a slot for each of them. The coordinator's entries
// all leave by a deadline (its request timeout, the peer client's), which
// bounds the span by what it creates within that time. Keep T small.
// Single-threaded.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ringkv::core {

template <typename T>
class IdWindow {
 public:
  // Adds `value` under `id`. REQUIRES: id is the one after the newest id
  // added (any id for the first one).
  void add(uint64_t id, T value) {
    if (span_ == 0) first_id_ = id;
    assert(id == first_id_ + span_ && "ids are added in order, each once");
    if (span_ == slots_.size()) grow();
    Slot& slot = slots_[(head_ + span_) & (slots_.size() - 1)];
    slot.value = std::move(value);
    slot.present = true;
    ++span_;
    ++size_;
  }

  // The entry under `id`, or nullptr when there is none (erased, or never added).
  T* find(uint64_t id) { return const_cast<T*>(std::as_const(*this).find(id)); }
  const T* find(uint64_t id) const {
    if (id < first_id_ || id - first_id_ >= span_) return nullptr;
    const Slot& slot = slots_[(head_ + (id - first_id_)) & (slots_.size() - 1)];
    return slot.present ? &slot.value : nullptr;
  }

  // Erases the entry under `id`; false when there is none.
  bool erase(uint64_t id) {
    if (find(id) == nullptr) return false;
    slots_[(head_ + (id - first_id_)) & (slots_.size() - 1)].present = false;
    --size_;
    // Forget erased ids at the old end, so the oldest id left is present.
    while (span_ > 0 && !slots_[head_].present) {
      head_ = (head_ + 1) & (slots_.size() - 1);
      ++first_id_;
      --span_;
    }
    return true;
  }

  // Entries present.
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The oldest id present. REQUIRES: !empty().
  uint64_t oldest_id() const {
    assert(!empty());
    return first_id_;
  }
  // Slots the span takes now (for tests: what the memory bound is about).
  size_t span() const { return span_; }

 private:
  struct Slot {
    T value{};
    bool present = false;
  };

  // Doubles the buffer, moving the span to its start.
  void grow() {
    std::vector<Slot> bigger(slots_.empty() ? 16 : 2 * slots_.size());
    for (size_t i = 0; i < span_; ++i) bigger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<Slot> slots_;  // size 0 or a power of two
  size_t head_ = 0;          // slot of first_id_
  uint64_t first_id_ = 0;
  size_t span_ = 0;          // ids from first_id_ on, present or erased
  size_t size_ = 0;          // present ones
};

}  // namespace ringkv::core
