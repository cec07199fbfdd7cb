#include "node/core/range_keys.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "node/core/replica_store.h"
#include "node/wire/glob.h"
#include "storage/storage_key.h"

namespace ringkv::core {
namespace {

// Records read from the engine per scan call (values come along; keep it modest).
constexpr size_t kEngineBatchEntries = 256;
constexpr size_t kEngineBatchBytes = 1 << 20;
// What one entry costs in a reply besides its key (versions, flags, framing).
constexpr size_t kEntryOverheadBytes = 32;

}  // namespace

wire::Body read_range_keys(storage::Engine& engine, const wire::RangeKeysRequest& request) {
  const size_t entries_max = std::clamp<size_t>(request.max_entries, 1, wire::kScanCountMax);
  const uint64_t end = request.end_inclusive == std::numeric_limits<uint64_t>::max() ? 0 : request.end_inclusive + 1;
  storage::ScanRange range{request.begin, end, ""};
  wire::RangeKeysReply reply;
  size_t bytes = 0;
  size_t examined = 0;
  std::optional<uint64_t> last_position;  // set once a bound is reached: finish this position only
  while (true) {
    auto batch = engine.scan(range, kEngineBatchEntries, kEngineBatchBytes);
    if (!batch) return wire::ErrorReply{wire::ErrorCode::kInternal, describe(batch.error())};
    for (storage::Entry& entry : batch->entries) {
      uint64_t position = 0;
      std::string_view key;
      if (!storage::split_storage_key(entry.storage_key, position, key) || key.empty()) continue;
      if (last_position && position != *last_position) {
        reply.covered_through = *last_position;
        return reply;
      }
      ++examined;
      if (wire::glob_matches(request.pattern, key)) {
        const storage::Record& record = entry.record;
        reply.entries.push_back(wire::KeyVersion{std::string(key), record.version.timestamp_us,
                                                 record.version.tiebreak, record.tombstone, record.expires_at_us});
        bytes += key.size() + kEntryOverheadBytes;
        if (bytes > kRangeKeysReplyBytesHard) {
          return wire::ErrorReply{wire::ErrorCode::kInternal,
                                  "more keys share one ring position than a scan reply can carry"};
        }
      }
      if (!last_position && (reply.entries.size() >= entries_max || bytes >= kRangeKeysReplyBytesSoft ||
                             examined >= kRangeKeysExaminedMax)) {
        last_position = position;
      }
    }
    if (batch->done || batch->entries.empty()) break;
    range.after_storage_key = batch->entries.back().storage_key;
  }
  // The range ran out: every record in it was examined, whatever the bounds.
  reply.covered_through = request.end_inclusive;
  return reply;
}

}  // namespace ringkv::core
