#include "node/wire/glob.h"
#include <utility>

namespace ringkv::wire {
namespace {

// Whether byte `c` matches the class that starts at pattern[at] == '['; sets
// `next` to the index after the class's ']' (or the pattern's end).
bool class_matches(std::string_view pattern, size_t at, unsigned char c, size_t& next) {
  size_t i = at + 1;
  const bool negated = i < pattern.size() && pattern[i] == '^';
  if (negated) ++i;
  bool matched = false;
  while (i < pattern.size() && pattern[i] != ']') {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      matched |= static_cast<unsigned char>(pattern[i + 1]) == c;
      i += 2;
    } else if (i + 2 < pattern.size() && pattern[i + 1] == '-') {
      auto low = static_cast<unsigned char>(pattern[i]);
      auto high = static_cast<unsigned char>(pattern[i + 2]);
      if (low > high) std::swap(low, high);
      matched |= c >= low && c <= high;
      i += 3;
    } else {
      matched |= static_cast<unsigned char>(pattern[i]) == c;
      ++i;
    }
  }
  next = i < pattern.size() ? i + 1 : i;
  return matched != negated;
}

// Whether the element at pattern[p] (not '*') matches byte `c`; sets `next`
// past the element.
bool element_matches(std::string_view pattern, size_t p, unsigned char c, size_t& next) {
  switch (pattern[p]) {
    case '?':
      next = p + 1;
      return true;
    case '[':
      return class_matches(pattern, p, c, next);
    case '\\':
      if (p + 1 < pattern.size()) {
        next = p + 2;
        return static_cast<unsigned char>(pattern[p + 1]) == c;
      }
      [[fallthrough]];  // a trailing backslash is itself
    default:
      next = p + 1;
      return static_cast<unsigned char>(pattern[p]) == c;
  }
}

}  // namespace

bool glob_matches(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return true;
  size_t p = 0;
  size_t t = 0;
  // The last '*' seen: where the pattern resumes after it, and the text
  // position it currently swallows up to. Backtracking to the last star only
  // is enough, since one star can absorb whatever an earlier one would.
  size_t star_next = std::string_view::npos;
  size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      while (p < pattern.size() && pattern[p] == '*') ++p;
      star_next = p;
      star_text = t;
      continue;
    }
    size_t next = 0;
    if (p < pattern.size() && element_matches(pattern, p, static_cast<unsigned char>(text[t]), next)) {
      p = next;
      ++t;
      continue;
    }
    if (star_next == std::string_view::npos) return false;
    p = star_next;
    t = ++star_text;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string prefix_pattern(std::string_view prefix) {
  if (prefix.empty()) return {};
  std::string pattern;
  pattern.reserve(prefix.size() * 2 + 1);
  for (char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern += '\\';
    pattern += c;
  }
  pattern += '*';
  return pattern;
}

}  // namespace ringkv::wire
