// RecyclingRing: a FIFO kept in one vector used as a ring. Popped elements
// are not destroyed: the next push_back hands the same object out again, so
// a steady pipeline reuses its elements (and what their strings and vectors
// hold) instead of allocating one per item as a deque does.
//
// The caller bounds the size (Session: commands_in_flight_max) and resets
// what it reuses; release_spare() gives an empty ring's memory back once it
// grew past what is worth keeping. References to elements stay valid until
// the next push_back or release_spare. Single-threaded.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <utility>
#include <vector>

namespace ringkv::resp {

template <typename T>
class RecyclingRing {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Elements held, in use or waiting for reuse.
  size_t capacity() const { return items_.size(); }

  // The i-th element from the front. REQUIRES: i < size().
  T& operator[](size_t i) {
    assert(i < size_ && "ring index within its size");
    return items_[(head_ + i) & (items_.size() - 1)];
  }
  T& front() { return (*this)[0]; }

  // Appends an element: a recycled one as pop_front() left it, or a new T.
  T& push_back() {
    if (size_ == items_.size()) grow();
    ++size_;
    return (*this)[size_ - 1];
  }
  // Removes the front element (it stays, to be handed out again). REQUIRES: !empty().
  void pop_front() {
    assert(size_ > 0 && "pop from a non-empty ring");
    head_ = (head_ + 1) & (items_.size() - 1);
    --size_;
  }
  // When empty and holding more than `kept_max` elements, frees them all.
  void release_spare(size_t kept_max) {
    if (size_ == 0 && items_.size() > kept_max) {
      std::vector<T>().swap(items_);
      head_ = 0;
    }
  }

 private:
  static constexpr size_t kFirstCapacity = 8;  // a power of two, as every capacity

  void grow() {
    std::vector<T> bigger(std::max(kFirstCapacity, items_.size() * 2));
    for (size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    items_.swap(bigger);
    head_ = 0;
  }

  std::vector<T> items_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace ringkv::resp
