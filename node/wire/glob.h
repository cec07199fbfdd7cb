// Glob: the key patterns of SCAN's MATCH and KEYS, with Redis's syntax.
//
//   *      any run of bytes (also none)      ?      any one byte
//   [abc]  one of the listed bytes           [^a]   any byte but those listed
//   [a-z]  a byte in the range (either order) \x    the byte x itself (also in [])
//
// An unclosed [ ends at the end of the pattern, as in Redis. Bytes compare
// exactly (no case folding). Matching is iterative, O(pattern x key) at worst
// (no recursion, so no pattern blows the stack or runs exponentially); the
// wire bounds patterns (kScanPatternBytesMax) and keys. Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace ringkv::wire {

// True when `text` matches `pattern`; the empty pattern matches everything
// (no MATCH given).
bool glob_matches(std::string_view pattern, std::string_view text);

// The pattern matching exactly the keys that start with `prefix` (its special
// bytes escaped, then "*"); "" for the empty prefix.
std::string prefix_pattern(std::string_view prefix);

}  // namespace ringkv::wire
