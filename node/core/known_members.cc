#include "node/core/known_members.h"

#include <charconv>

namespace ringkv::core {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::optional<std::string> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  for (size_t i = 0; i < text.size(); i += 2) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data() + i, text.data() + i + 2, value, 16);
    if (ec != std::errc() || end != text.data() + i + 2) return std::nullopt;
    bytes.push_back(static_cast<char>(value));
  }
  return bytes;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

}  // namespace

std::string encode_known_members(const std::vector<RingNode>& nodes) {
  std::string text;
  for (const RingNode& node : nodes) {
    for (unsigned char c : node.id) {
      text += kHex[c >> 4];
      text += kHex[c & 15];
    }
    text += '\t' + node.name + '\t' + node.address + '\t' + std::to_string(node.vnodes);
    // The rack only when set, so lists without racks keep the layout older builds read.
    if (!node.rack.empty()) text += '\t' + node.rack;
    text += '\n';
  }
  return text;
}

std::optional<std::vector<RingNode>> decode_known_members(std::string_view text) {
  std::vector<RingNode> nodes;
  for (std::string_view line : split(text, '\n')) {
    if (line.empty()) continue;
    const auto fields = split(line, '\t');
    if (fields.size() != 4 && fields.size() != 5) return std::nullopt;
    const std::string_view rack = fields.size() == 5 ? fields[4] : std::string_view();
    if (!membership::is_valid_rack(rack)) return std::nullopt;
    auto id = from_hex(fields[0]);
    uint32_t vnodes = 0;
    const auto [end, ec] = std::from_chars(fields[3].data(), fields[3].data() + fields[3].size(), vnodes);
    if (!id || id->size() != membership::kNodeIdBytes || ec != std::errc() || vnodes > kVnodesMax) {
      return std::nullopt;
    }
    nodes.push_back(RingNode{std::move(*id), std::string(fields[1]), std::string(fields[2]), vnodes,
                             std::string(rack)});
  }
  return nodes;
}

}  // namespace ringkv::core
