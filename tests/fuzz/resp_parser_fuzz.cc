// Fuzz target: the RESP request parser (node/resp/request_parser.h).
//
// Input: one byte choosing the limits (the defaults, or tiny ones so short inputs reach every
// bound), one byte choosing a piece size, then the client's byte stream. Checks:
// - the parser never crashes, whatever the bytes;
// - every command it yields is within the limits (argument count, each argument's bound for its
//   command and position, the command's total) and not empty;
// - it never buffers more than it was fed;
// - the commands and the final outcome do not depend on how the stream was cut (whole, or in
//   pieces of the chosen size) nor on how it was fed: copied (feed), or lent (feed_in_place)
//   taking at most a few commands from each piece before keeping the rest, the piece then
//   scribbled over and freed (a command still viewing it would differ, or ASan reports it);
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

// A command's arguments, owned (a parsed Command only views the parser's input).
using Words = std::vector<std::string>;

struct Outcome {
  std::vector<Words> commands;
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

// in_place: each piece is lent and at most `taken_max` commands are taken from it.
Outcome parse(std::string_view stream, size_t piece_bytes, const Limits& limits, bool in_place,
              size_t taken_max) {
  RequestParser parser(limits);
  Outcome outcome;
  size_t fed = 0;
  Command command;
  std::string error;
  auto take = [&](size_t most) {
    for (size_t taken = 0; taken < most; ++taken) {
      outcome.last = parser.next(command, error);
      if (outcome.last != RequestParser::Status::kCommand) break;
      check_command(command, limits);
      outcome.commands.emplace_back(command.begin(), command.end());
    }
    if (outcome.last == RequestParser::Status::kError) {
      FUZZ_CHECK(!error.empty(), "an error says why");
      FUZZ_CHECK(parser.next(command, error) == RequestParser::Status::kError, "a failed parser stays failed");
    }
  };
  while (fed < stream.size() && outcome.last != RequestParser::Status::kError) {
    std::string piece(stream.substr(fed, piece_bytes));
    fed += piece.size();
    if (in_place) {
      parser.feed_in_place(piece);
      take(taken_max);
      parser.keep_unparsed();
      piece.assign(piece.size(), '#');
    } else {
      parser.feed(piece);
      take(SIZE_MAX);
    }
    FUZZ_CHECK(parser.buffered_bytes() <= fed, "the parser buffers no more than it was fed");
  }
  if (outcome.last != RequestParser::Status::kError) take(SIZE_MAX);
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Limits limits = data[0] & 1 ? tiny_limits() : Limits{};
  const size_t piece_bytes = 1 + data[1] % 64;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  const size_t taken_max = data[1] >> 6;  // 0 to 3 commands from each lent piece
  const Outcome whole = parse(stream, stream.size() + 1, limits, false, 0);
  FUZZ_CHECK(parse(stream, piece_bytes, limits, false, 0) == whole, "the outcome does not depend on the cuts");
  FUZZ_CHECK(parse(stream, piece_bytes, limits, true, taken_max) == whole,
             "parsing in place gives the same outcome");
  FUZZ_CHECK(parse(stream, stream.size() + 1, limits, true, SIZE_MAX) == whole,
             "parsing one lent piece gives the same outcome");

  std::string encoded;
  for (const Words& command : whole.commands) append_command(encoded, command);
  RequestParser parser(limits);
  parser.feed(encoded);
  Command command;
  std::string error;
  for (const Words& expected : whole.commands) {
    FUZZ_CHECK(parser.next(command, error) == RequestParser::Status::kCommand, "an encoded command parses");
    FUZZ_CHECK(Words(command.begin(), command.end()) == expected, "decode(encode(decode(x))) == decode(x)");
  }
  FUZZ_CHECK(parser.next(command, error) == RequestParser::Status::kNeedMore, "nothing left over");
  FUZZ_CHECK(parser.buffered_bytes() == 0, "every byte consumed");
  return 0;
}
