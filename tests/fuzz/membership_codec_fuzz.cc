// Fuzz target: the membership codec (membership/codec.h), gossip datagrams and push-pull.
//
// The input is offered to both decoders, with the bounds kvnode uses (membership/config.h).
// Checks:
// - neither decoder crashes, throws or reads out of bounds, whatever the bytes;
// - every member record that decodes passes validate_member() and the stated bounds;
// - round trip: what a decoder accepts, encoded again (PacketWriter + encode_update, or
//   encode_push_pull), decodes again to the same thing (compared by canonical encoding:
//   decode(encode(decode(x))) == decode(x)).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "membership/codec.h"
#include "membership/config.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ringkv::membership;

namespace {

const Config kConfig{};
// Re-encoding gets room to spare: PacketWriter reserves the widest updates-array header, which
// a datagram that used a narrower one at exactly the limit would not leave; the budget is not
// what this target tests.
constexpr std::size_t kReencodeBytesMax = 64 * 1024;

void check_member(const Member& member) {
  FUZZ_CHECK(validate_member(member).has_value(), "a decoded member is valid");
  FUZZ_CHECK(member.incarnation <= kIncarnationMax, "a decoded incarnation within its bound");
  FUZZ_CHECK(member.vnode_count <= kVnodeCountMax, "a decoded vnode count within its bound");
}

std::string encode_packet(const Packet& packet) {
  PacketWriter writer(packet.header, packet.body, kReencodeBytesMax);
  for (const Update& update : packet.updates) {
    FUZZ_CHECK(writer.try_add(encode_update(update)), "every decoded update fits again");
  }
  return std::move(writer).finish();
}

void check_packet(std::string_view bytes) {
  auto packet = decode_packet(bytes, kConfig.datagram_bytes_max);
  if (!packet) return;
  FUZZ_CHECK(bytes.size() <= kConfig.datagram_bytes_max, "no datagram over the limit decodes");
  FUZZ_CHECK(packet->header.sender_id.size() == kNodeIdBytes, "a sender id of 16 bytes");
  for (const Update& update : packet->updates) {
    check_member(update.member);
    FUZZ_CHECK(update.origin_id.empty() || update.origin_id.size() == kNodeIdBytes,
               "an origin id of 16 bytes or none");
  }
  const std::string encoded = encode_packet(*packet);
  auto again = decode_packet(encoded, kReencodeBytesMax);
  FUZZ_CHECK(again.has_value(), "an encoded datagram decodes");
  FUZZ_CHECK(again->updates.size() == packet->updates.size(), "the round trip keeps every update");
  for (size_t i = 0; i < packet->updates.size(); ++i) {
    FUZZ_CHECK(again->updates[i].member == packet->updates[i].member, "the round trip keeps members");
  }
  FUZZ_CHECK(encode_packet(*again) == encoded, "decode(encode(decode(x))) == decode(x)");
}

void check_push_pull(std::string_view bytes) {
  auto message = decode_push_pull(bytes, kConfig.push_pull_bytes_max, kConfig.members_max);
  if (!message) return;
  FUZZ_CHECK(message->members.size() <= kConfig.members_max, "members within the bound");
  FUZZ_CHECK(message->sender_id.size() == kNodeIdBytes, "a sender id of 16 bytes");
  for (const Member& member : message->members) check_member(member);
  const std::string encoded = encode_push_pull(*message);
  auto again = decode_push_pull(encoded, kConfig.push_pull_bytes_max, kConfig.members_max);
  FUZZ_CHECK(again.has_value(), "an encoded push-pull decodes");
  FUZZ_CHECK(again->members == message->members, "the round trip keeps members");
  FUZZ_CHECK(encode_push_pull(*again) == encoded, "decode(encode(decode(x))) == decode(x)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_packet(input);
  check_push_pull(input);
  return 0;
}
