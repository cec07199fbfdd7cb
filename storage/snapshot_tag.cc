#include "storage/snapshot_tag.h"

#include <cstdio>
#include <ctime>

namespace ringkv::storage {

std::optional<std::string> snapshot_tag_problem(std::string_view tag) {
  if (tag.empty()) return "a snapshot tag may not be empty";
  if (tag.size() > kSnapshotTagBytesMax) {
    return "a snapshot tag has at most " + std::to_string(kSnapshotTagBytesMax) + " characters";
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(tag.front())) return "a snapshot tag starts with a letter or a digit";
  for (char c : tag) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') {
      return "a snapshot tag holds only letters, digits, '.', '_' and '-'";
    }
  }
  if (tag.ends_with(".tmp")) return "a snapshot tag may not end in .tmp";
  return std::nullopt;
}

std::string default_snapshot_tag(uint64_t wall_us) {
  const std::time_t seconds = static_cast<std::time_t>(wall_us / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const size_t length = std::strftime(text, sizeof(text), "%Y%m%dT%H%M%S", &utc);
  char millis[8];
  std::snprintf(millis, sizeof(millis), ".%03uZ", static_cast<unsigned>(wall_us / 1000 % 1000));
  return std::string(text, length) + millis;
}

}  // namespace ringkv::storage
