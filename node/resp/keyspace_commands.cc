#include "node/resp/keyspace_commands.h"

#include <algorithm>
#include <charconv>

#include "node/resp/command_name.h"
#include "node/resp/reply_encoder.h"

namespace ringkv::resp {
namespace {

template <typename Integer>
bool parse_decimal(std::string_view text, Integer& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc{} && end == text.data() + text.size() && !text.empty();
}

}  // namespace

std::variant<wire::ScanRequest, std::string> parse_scan(const Command& args, wire::Consistency level) {
  if (args.size() < 2 || args.size() % 2 != 0) return wrong_arity(args[0]);
  wire::ScanRequest request;
  request.consistency = level;
  if (!parse_decimal(args[1], request.cursor)) return encoded_error("ERR invalid cursor");
  bool strings_only_excluded = false;
  for (size_t i = 2; i + 1 < args.size(); i += 2) {
    const std::string_view option = args[i];
    const std::string_view value = args[i + 1];
    if (equals_ignoring_case(option, "match")) {
      if (value.size() > wire::kScanPatternBytesMax) {
        return encoded_error("ERR MATCH pattern longer than " + std::to_string(wire::kScanPatternBytesMax) + " bytes");
      }
      // "*" matches everything: sent as no pattern at all.
      request.pattern = value == "*" ? std::string_view() : value;
    } else if (equals_ignoring_case(option, "count")) {
      int64_t count = 0;
      if (!parse_decimal(value, count)) return encoded_error("ERR value is not an integer or out of range");
      if (count < 1) return encoded_error("ERR syntax error");
      request.count = static_cast<uint32_t>(std::min<int64_t>(count, wire::kScanCountMax));
    } else if (equals_ignoring_case(option, "type")) {
      strings_only_excluded = !equals_ignoring_case(value, "string");
    } else {
      return encoded_error("ERR syntax error");
    }
  }
  if (strings_only_excluded) return scan_reply(wire::ScanReply{0, {}});
  return request;
}

std::string scan_reply(const wire::ScanReply& page) {
  std::string out;
  append_array_header(out, 2);
  append_bulk_string(out, std::to_string(page.cursor));
  append_array_header(out, page.keys.size());
  for (const std::string& key : page.keys) append_bulk_string(out, key);
  return out;
}

std::string keys_refusal() {
  return "ERR KEYS matched more than " + std::to_string(kKeysReplyKeysMax) + " keys (or " +
         std::to_string(kKeysReplyBytesMax >> 20) + " MiB of keys); use SCAN";
}

}  // namespace ringkv::resp
