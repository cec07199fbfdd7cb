// Fuzz target: the RESP request parser (node/resp/request_parser.h).
//
// Input: one byte choosing the limits (the defaults, or tiny ones so short inputs reach every
// bound), one byte choosing a piece size, then the client's byte stream. Checks:
// - the parser never crashes, whatever the bytes;
// - every command it yields is within the limits (argument count, each argument's bound for its
//   command and position, the command's total) and not empty;
// - it never buffers more than it was fed;
// - the commands and the final outcome do not depend on how the stream was cut (whole, or in
//   pieces of the chosen size);
// - round trip: the commands, encoded again (append_command, multibulk), parse to the same
//   commands with nothing left over.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/resp/reply_encoder.h"
#include "node/resp/request_parser.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ringkv::resp;

namespace {

Limits tiny_limits() {
  Limits limits;
  limits.arguments_max = 4;
  limits.key_bytes_max = 16;
  limits.value_bytes_max = 64;
  limits.inline_bytes_max = 32;
  limits.command_bytes_max = 80;
  return limits;
}

struct Outcome {
  std::vector<Command> commands;
  RequestParser::Status last = RequestParser::Status::kNeedMore;
  bool operator==(const Outcome&) const = default;
};

void check_command(const Command& command, const Limits& limits) {
  FUZZ_CHECK(!command.empty(), "a command has a name");
  FUZZ_CHECK(command.size() <= limits.arguments_max, "arguments within the limit");
  size_t total = 0;
  for (size_t i = 0; i < command.size(); ++i) {
    FUZZ_CHECK(command[i].size() <= argument_bytes_max(command[0], i, limits),
               "each argument within its bound");
    total += command[i].size();
  }
  FUZZ_CHECK(total <= limits.command_bytes_max, "a command within its total bound");
}

Outcome parse(std::string_view stream, size_t piece_bytes, const Limits& limits) {
  RequestParser parser(limits);
  Outcome outcome;
  size_t fed = 0;
  Command command;
  std::string error;
  while (fed < stream.size() && outcome.last != RequestParser::Status::kError) {
    const std::string_view piece = stream.substr(fed, piece_bytes);
    parser.feed(piece);
    fed += piece.size();
    while ((outcome.last = parser.next(command, error)) == RequestParser::Status::kCommand) {
      check_command(command, limits);
      outcome.commands.push_back(command);
    }
    FUZZ_CHECK(parser.buffered_bytes() <= fed, "the parser buffers no more than it was fed");
    if (outcome.last == RequestParser::Status::kError) {
      FUZZ_CHECK(!error.empty(), "an error says why");
      FUZZ_CHECK(parser.next(command, error) == RequestParser::Status::kError, "a failed parser stays failed");
    }
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Limits limits = data[0] & 1 ? tiny_limits() : Limits{};
  const size_t piece_bytes = 1 + data[1] % 64;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Outcome whole = parse(stream, stream.size() + 1, limits);
  FUZZ_CHECK(parse(stream, piece_bytes, limits) == whole, "the outcome does not depend on the cuts");

  std::string encoded;
  for (const Command& command : whole.commands) append_command(encoded, command);
  RequestParser parser(limits);
  parser.feed(encoded);
  Command command;
  std::string error;
  for (const Command& expected : whole.commands) {
    FUZZ_CHECK(parser.next(command, error) == RequestParser::Status::kCommand, "an encoded command parses");
    FUZZ_CHECK(command == expected, "decode(encode(decode(x))) == decode(x)");
  }
  FUZZ_CHECK(parser.next(command, error) == RequestParser::Status::kNeedMore, "nothing left over");
  FUZZ_CHECK(parser.buffered_bytes() == 0, "every byte consumed");
  return 0;
}
