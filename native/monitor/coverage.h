// Coverage: how many watches cover each part of the address space, so that a
// range shared by several watches is handed to the kernel once and given back
// only when its last watch goes.
#pragma once
#include <cstdint>
#include <iterator>
#include <map>
#include <utility>
#include <vector>

namespace regcache::monitor {

class Coverage {
 public:
  using Range = std::pair<uint64_t, uint64_t>;

  // Adds one to every byte of [start, end).
  void Add(uint64_t start, uint64_t end) { Shift(start, end, +1, nullptr); }

  // Subtracts one from [start, end); returns the parts that dropped to zero,
  // merged and in address order.
  std::vector<Range> Remove(uint64_t start, uint64_t end) {
    std::vector<Range> freed;
    Shift(start, end, -1, &freed);
    return freed;
  }

  bool Empty() const { return counts_.empty(); }

 private:
  // counts_[a] = n: the bytes from a up to the next key are covered n times.
  // A key with n == 0 ends a covered run; there are no two equal neighbours.
  void Split(uint64_t at) {
    auto it = counts_.upper_bound(at);
    if (it == counts_.begin()) {
      counts_.emplace(at, 0);
      return;
    }
    --it;
    if (it->first != at) counts_.emplace(at, it->second);
  }

  void Shift(uint64_t start, uint64_t end, int delta, std::vector<Range>* freed) {
    if (start >= end) return;
    Split(start);
    Split(end);
    auto first = counts_.find(start), last = counts_.find(end);
    for (auto it = first; it != last; ++it) {
      it->second += delta;
      if (freed && it->second == 0) {
        uint64_t a = it->first, b = std::next(it)->first;
        if (!freed->empty() && freed->back().second == a) freed->back().second = b;
        else freed->emplace_back(a, b);
      }
    }
    // Drop keys equal to their predecessor (and leading zeros) around the edit.
    auto it = first == counts_.begin() ? first : std::prev(first);
    auto stop = std::next(last);
    while (it != stop) {
      auto next = std::next(it);
      bool redundant = (it == counts_.begin()) ? it->second == 0 : std::prev(it)->second == it->second;
      if (redundant) counts_.erase(it);
      it = next;
    }
  }

  std::map<uint64_t, int> counts_;
};

}  // namespace regcache::monitor
