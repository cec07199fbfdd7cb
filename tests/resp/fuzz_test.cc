// Randomised checks: any command list survives encode -> split anywhere ->
// parse; random garbage never crashes the parser nor grows it past what was
// fed. Seeds are fixed and printed on failure.
#include <doctest/doctest.h>

#include <random>

#include "node/resp/reply_encoder.h"
#include "node/resp/request_parser.h"

using namespace ringkv::resp;

namespace {

std::string random_bytes(std::mt19937_64& rng, size_t length) {
  std::string out(length, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

}  // namespace

TEST_CASE("random commands round-trip through the encoder and the parser in random pieces") {
  // Odd seeds lend each piece (parsed in place, taking a random number of
  // commands before keeping the rest, as a full session does), then scribble
  // over it: a command that still viewed it would come out wrong.
  using Words = std::vector<std::string>;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    const bool in_place = seed % 2 == 1;
    std::vector<Words> sent;
    std::string bytes;
    const size_t count = 1 + rng() % 20;
    for (size_t i = 0; i < count; ++i) {
      Words command{rng() % 2 ? "SET" : "GET"};
      const size_t args = rng() % 5;
      for (size_t a = 0; a < args; ++a) {
        const size_t length = rng() % 8 == 0 ? rng() % 5000 : rng() % 40;
        command.push_back(random_bytes(rng, length));
      }
      append_command(bytes, command);
      sent.push_back(std::move(command));
    }
    RequestParser parser{Limits{}};
    std::vector<Words> received;
    Command command;
    std::string error;
    size_t at = 0;
    auto take = [&](size_t most) {
      for (size_t taken = 0; taken < most; ++taken) {
        const auto status = parser.next(command, error);
        if (status == RequestParser::Status::kNeedMore) break;
        REQUIRE_MESSAGE(status == RequestParser::Status::kCommand, error);
        received.emplace_back(command.begin(), command.end());
      }
    };
    while (at < bytes.size()) {
      std::string piece = bytes.substr(at, 1 + rng() % 300);
      at += piece.size();
      if (in_place) {
        parser.feed_in_place(piece);
        take(rng() % 4);
        parser.keep_unparsed();
        piece.assign(piece.size(), '#');
      } else {
        parser.feed(piece);
        take(SIZE_MAX);
      }
    }
    take(SIZE_MAX);
    CHECK(received == sent);
    CHECK(parser.buffered_bytes() == 0);
  }
}

TEST_CASE("random and mutated input never crashes the parser nor outgrows what was fed") {
  std::string valid;
  append_command(valid, {"SET", "key", "value"});
  append_command(valid, {"MGET", "a", "b"});
  for (uint64_t seed = 1; seed <= 2000; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    std::string bytes;
    if (seed % 2 == 0) {
      bytes = random_bytes(rng, rng() % 200);
      if (!bytes.empty() && seed % 4 == 0) bytes[0] = '*';
    } else {
      bytes = valid;
      for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
        bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
      }
    }
    RequestParser parser{Limits{}};
    parser.feed(bytes);
    Command command;
    std::string error;
    for (int step = 0; step < 1000; ++step) {
      const auto status = parser.next(command, error);
      CHECK(parser.buffered_bytes() <= bytes.size());
      if (status != RequestParser::Status::kCommand) {
        if (status == RequestParser::Status::kError) CHECK(!error.empty());
        break;
      }
      CHECK(!command.empty());
    }
  }
}
