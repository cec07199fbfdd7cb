// RequestParser: both request forms, split reads, and malformed input that
// must fail before anything is allocated for it.
#include <doctest/doctest.h>

#include <string>

#include "node/resp/reply_encoder.h"
#include "node/resp/request_parser.h"

using namespace ringkv::resp;

namespace {

// A command's arguments, owned (a parsed Command only views the parser's input).
using Words = std::vector<std::string>;

// Feeds `bytes` and returns every command until the parser needs more.
std::vector<Words> parse_all(RequestParser& parser, std::string_view bytes) {
  parser.feed(bytes);
  std::vector<Words> commands;
  Command command;
  std::string error;
  while (true) {
    const auto status = parser.next(command, error);
    if (status == RequestParser::Status::kNeedMore) return commands;
    REQUIRE_MESSAGE(status == RequestParser::Status::kCommand, error);
    commands.emplace_back(command.begin(), command.end());
  }
}

// Whether every argument of `command` lies inside `bytes`.
bool views_into(const Command& command, std::string_view bytes) {
  for (std::string_view arg : command) {
    if (arg.data() < bytes.data() || arg.data() + arg.size() > bytes.data() + bytes.size()) return false;
  }
  return true;
}

// The parser's error for `bytes` (fails the test when there is none).
std::string error_for(std::string_view bytes, const Limits& limits = Limits{}) {
  RequestParser parser(limits);
  parser.feed(bytes);
  Command command;
  std::string error;
  while (true) {
    const auto status = parser.next(command, error);
    if (status == RequestParser::Status::kError) return error;
    REQUIRE_MESSAGE(status == RequestParser::Status::kCommand, "no error for input");
  }
}

}  // namespace

TEST_CASE("a multibulk command parses into its arguments") {
  RequestParser parser{Limits{}};
  auto commands = parse_all(parser, "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  REQUIRE(commands.size() == 1);
  CHECK(commands[0] == Words{"SET", "key", "value"});
  CHECK(parser.buffered_bytes() == 0);
}

TEST_CASE("bulk strings are binary-safe") {
  RequestParser parser{Limits{}};
  const std::string value("a\r\nb\0c", 6);
  std::string bytes;
  append_command(bytes, {"SET", "k", value});
  auto commands = parse_all(parser, bytes);
  REQUIRE(commands.size() == 1);
  CHECK(commands[0][2] == value);
}

TEST_CASE("a command split at every byte boundary parses the same") {
  std::string bytes;
  append_command(bytes, {"MSET", "a", "1", "bb", "22"});
  append_command(bytes, {"GET", ""});
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    RequestParser parser{Limits{}};
    auto first = parse_all(parser, std::string_view(bytes).substr(0, cut));
    auto rest = parse_all(parser, std::string_view(bytes).substr(cut));
    first.insert(first.end(), rest.begin(), rest.end());
    REQUIRE(first.size() == 2);
    CHECK(first[0] == Words{"MSET", "a", "1", "bb", "22"});
    CHECK(first[1] == Words{"GET", ""});
  }
}

TEST_CASE("pipelined commands come out in order") {
  std::string bytes;
  for (int i = 0; i < 100; ++i) append_command(bytes, {"GET", "key" + std::to_string(i)});
  RequestParser parser{Limits{}};
  auto commands = parse_all(parser, bytes);
  REQUIRE(commands.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(commands[i][1] == "key" + std::to_string(i));
}

TEST_CASE("inline commands split on spaces and accept LF or CRLF") {
  RequestParser parser{Limits{}};
  auto commands = parse_all(parser, "PING\r\nset  k\tv\n\r\n\nget k\r\n");
  REQUIRE(commands.size() == 3);
  CHECK(commands[0] == Words{"PING"});
  CHECK(commands[1] == Words{"set", "k", "v"});
  CHECK(commands[2] == Words{"get", "k"});
}

TEST_CASE("an empty multibulk is skipped") {
  RequestParser parser{Limits{}};
  auto commands = parse_all(parser, "*0\r\n*1\r\n$4\r\nPING\r\n");
  REQUIRE(commands.size() == 1);
  CHECK(commands[0] == Words{"PING"});
}

TEST_CASE("a request starting with a byte other than '*' or a letter is refused") {
  CHECK(error_for("$3\r\nGET\r\n").find("unexpected '$'") != std::string::npos);
  CHECK(error_for("+OK\r\n").find("unexpected '+'") != std::string::npos);
  CHECK(error_for(std::string("\x00\x01", 2)).find("byte 0x00") != std::string::npos);
}

TEST_CASE("a bulk header must start with '$'") {
  CHECK(error_for("*1\r\n:3\r\n").find("expected '$'") != std::string::npos);
}

TEST_CASE("negative and non-numeric lengths are refused") {
  CHECK(error_for("*-1\r\n").find("invalid multibulk length") != std::string::npos);
  CHECK(error_for("*x\r\n").find("invalid multibulk length") != std::string::npos);
  CHECK(error_for("*1\r\n$-1\r\n").find("invalid bulk length") != std::string::npos);
  CHECK(error_for("*1\r\n$1a\r\n").find("invalid bulk length") != std::string::npos);
  CHECK(error_for("*1\r\n$\r\n").find("invalid bulk length") != std::string::npos);
  CHECK(error_for("*1\r\n$99999999999999999999999\r\n").find("invalid bulk length") != std::string::npos);
}

TEST_CASE("a huge bulk length fails from its header, before any data arrives") {
  RequestParser parser{Limits{}};
  parser.feed("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4294967296\r\n");
  Command command;
  std::string error;
  CHECK(parser.next(command, error) == RequestParser::Status::kError);
  CHECK(error.find("exceeds its limit") != std::string::npos);
}

TEST_CASE("keys and values have their own bounds by command and position") {
  const Limits limits;
  auto header = [](std::string_view name, size_t length) {
    return "*3\r\n$" + std::to_string(name.size()) + "\r\n" + std::string(name) + "\r\n$" +
           std::to_string(length) + "\r\n";
  };
  // A key one byte over the key bound is refused for GET and SET.
  CHECK(error_for(header("GET", limits.key_bytes_max + 1)).find("argument 1") != std::string::npos);
  CHECK(error_for(header("set", limits.key_bytes_max + 1)).find("argument 1") != std::string::npos);
  // A SET value may reach the value bound; one byte more is refused.
  std::string set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$";
  RequestParser parser(limits);
  parser.feed(set + std::to_string(limits.value_bytes_max) + "\r\n");
  Command command;
  std::string error;
  CHECK(parser.next(command, error) == RequestParser::Status::kNeedMore);
  CHECK(error_for(set + std::to_string(limits.value_bytes_max + 1) + "\r\n").find("argument 2") !=
        std::string::npos);
  // MSET: odd positions are keys, even ones values.
  CHECK(error_for("*3\r\n$4\r\nMSET\r\n$" + std::to_string(limits.key_bytes_max + 1) + "\r\n")
            .find("argument 1") != std::string::npos);
}

TEST_CASE("too many arguments are refused from the count alone") {
  Limits limits;
  limits.arguments_max = 10;
  CHECK(error_for("*11\r\n", limits).find("too many arguments") != std::string::npos);
  CHECK(error_for("*9223372036854775807\r\n").find("too many arguments") != std::string::npos);
  std::string line = "GET";
  for (int i = 0; i < 10; ++i) line += " k";
  CHECK(error_for(line + "\r\n", limits).find("too many arguments") != std::string::npos);
}

TEST_CASE("lines that never end are refused once they pass their bound") {
  CHECK(error_for("*1" + std::string(40, '1')).find("unterminated") != std::string::npos);
  CHECK(error_for("*1\r\n$1" + std::string(40, '1')).find("unterminated") != std::string::npos);
  Limits limits;
  CHECK(error_for("GET " + std::string(limits.inline_bytes_max, 'k')).find("unterminated") !=
        std::string::npos);
  // Within the bound it just waits for more.
  RequestParser parser{Limits{}};
  parser.feed("*1");
  Command command;
  std::string error;
  CHECK(parser.next(command, error) == RequestParser::Status::kNeedMore);
}

TEST_CASE("a header with LF but no CR, or a bulk without its CRLF, is refused") {
  CHECK(error_for("*1\n$4\r\nPING\r\n").find("CRLF") != std::string::npos);
  CHECK(error_for("*1\r\n$4\r\nPINGxy").find("not terminated by CRLF") != std::string::npos);
}

TEST_CASE("a failed parser stays failed") {
  RequestParser parser{Limits{}};
  parser.feed("?");
  Command command;
  std::string error;
  CHECK(parser.next(command, error) == RequestParser::Status::kError);
  parser.feed("*1\r\n$4\r\nPING\r\n");
  error.clear();
  CHECK(parser.next(command, error) == RequestParser::Status::kError);
  CHECK(!error.empty());
}

TEST_CASE("lent bytes are parsed in place and only the command cut by their end is kept") {
  std::string stream;
  append_command(stream, {"SET", "k1", std::string(100, 'a')});
  append_command(stream, {"GET", "k1"});
  append_command(stream, {"SET", "k2", std::string(300, 'b')});
  const size_t cut = stream.size() - 200;  // inside the last value
  std::string read = stream.substr(0, cut);
  RequestParser parser{Limits{}};
  parser.feed_in_place(read);
  Command command;
  std::string error;
  REQUIRE(parser.next(command, error) == RequestParser::Status::kCommand);
  CHECK(views_into(command, read));
  CHECK(Words(command.begin(), command.end()) == Words{"SET", "k1", std::string(100, 'a')});
  REQUIRE(parser.next(command, error) == RequestParser::Status::kCommand);
  CHECK(views_into(command, read));
  CHECK(parser.next(command, error) == RequestParser::Status::kNeedMore);
  parser.keep_unparsed();
  CHECK(parser.buffered_bytes() == 102);  // the value's first bytes (its headers were parsed)
  read.assign(read.size(), '#');  // the lent bytes are gone

  std::string next_read = stream.substr(cut);
  append_command(next_read, {"GET", "k2"});
  parser.feed_in_place(next_read);
  REQUIRE(parser.next(command, error) == RequestParser::Status::kCommand);
  CHECK(Words(command.begin(), command.end()) == Words{"SET", "k2", std::string(300, 'b')});
  CHECK(!views_into(command, next_read));  // topped up into the parser's buffer
  REQUIRE(parser.next(command, error) == RequestParser::Status::kCommand);
  CHECK(Words(command.begin(), command.end()) == Words{"GET", "k2"});
  CHECK(views_into(command, next_read));  // in place again
  CHECK(parser.next(command, error) == RequestParser::Status::kNeedMore);
  parser.keep_unparsed();
  CHECK(parser.buffered_bytes() == 0);
}

TEST_CASE("commands the caller did not take from lent bytes are kept for later") {
  std::string read;
  for (int i = 0; i < 5; ++i) append_command(read, {"GET", "key" + std::to_string(i)});
  RequestParser parser{Limits{}};
  parser.feed_in_place(read);
  Command command;
  std::string error;
  REQUIRE(parser.next(command, error) == RequestParser::Status::kCommand);
  parser.keep_unparsed();  // the caller stopped (its session was full)
  CHECK(parser.buffered_bytes() == read.size() / 5 * 4);
  read.assign(read.size(), '#');
  std::string more;
  append_command(more, {"GET", "key5"});
  parser.feed_in_place(more);
  for (int i = 1; i <= 5; ++i) {
    REQUIRE(parser.next(command, error) == RequestParser::Status::kCommand);
    CHECK(command[1] == "key" + std::to_string(i));
  }
  CHECK(views_into(command, more));
  CHECK(parser.next(command, error) == RequestParser::Status::kNeedMore);
  parser.keep_unparsed();
  CHECK(parser.buffered_bytes() == 0);
}

TEST_CASE("lengths with leading zeros or more digits than the fast path reads parse as before") {
  RequestParser parser{Limits{}};
  auto commands = parse_all(parser, "*01\r\n$04\r\nPING\r\n*1\r\n$0000000000000000004\r\nPING\r\n");
  REQUIRE(commands.size() == 2);
  CHECK(commands[0] == Words{"PING"});
  CHECK(commands[1] == Words{"PING"});
  CHECK(error_for("*1\r\n$4\rx\nPING\r\n").find("not terminated by CRLF") != std::string::npos);
  CHECK(error_for("*1\r\n$+4\r\nPING\r\n").find("invalid bulk length") != std::string::npos);
}
