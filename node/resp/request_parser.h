// RequestParser: splits a RESP2 byte stream from a client into commands.
//
// Two request forms, as Redis accepts them:
// - multibulk: "*<n>\r\n" then n bulk strings "$<len>\r\n<bytes>\r\n"
//   (what every client library and redis-benchmark send);
// - inline: one line of words separated by spaces or tabs, ended by "\n"
//   or "\r\n" (telnet, `nc`); no quoting. Empty lines are skipped.
// A command is a list of byte strings; args[0] is its name.
//
// Every bound (resp::Limits) is checked from the headers alone, before a
// buffer grows for the data they announce: argument count, each bulk
// length (per command and position, see argument_bytes_max), the command's
// total bytes, and the length of every line (a line that does not end within
// its bound is "unterminated"). The parser only ever buffers what the caller
// fed it, so memory stays at one maximal argument plus one read.
//
// Anything malformed (a request starting with a byte other than '*' or a
// letter, a bulk header without '$', negative or oversized lengths, a
// missing CRLF, non-digits in a length) makes next() return kError with a
// reason; the parser is then failed for good and the connection must close.
//
// Pure: no I/O, no clock. Not thread-safe (one parser per connection).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "node/resp/limits.h"

namespace ringkv::resp {

using Command = std::vector<std::string>;

class RequestParser {
 public:
  // REQUIRES: limits.validate() is empty.
  explicit RequestParser(const Limits& limits);

  void feed(std::string_view bytes);

  enum class Status { kCommand, kNeedMore, kError };
  // kCommand: `command` holds the next command (its previous contents are
  // replaced). kError: `error` says what was wrong; every later call returns
  // kError again.
  Status next(Command& command, std::string& error);

  // Bytes fed but not yet returned as part of a command.
  size_t buffered_bytes() const { return buffer_.size() - consumed_; }
  // Gives back buffer capacity far above what is left unparsed (call once a
  // read was handled): an idle connection then keeps no read-sized buffer,
  // so a thousand of them cost kilobytes, not a read buffer each.
  void release_spare();

 private:
  enum class State { kStart, kBulkHeader, kBulkBody, kFailed };

  Status fail(std::string& error, std::string reason);
  Status next_inline(Command& command, std::string& error, bool& skipped);
  // Finds the line at consumed_ ending in CRLF within `bytes_max` bytes.
  // Returns 1 with `line` set, 0 when more bytes are needed, -1 on error.
  int header_line(size_t bytes_max, std::string_view& line, std::string& error);

  Limits limits_;
  State state_ = State::kStart;
  std::string buffer_;
  size_t consumed_ = 0;
  size_t arguments_expected_ = 0;
  size_t bulk_bytes_ = 0;
  size_t command_bytes_ = 0;
  Command args_;
  std::string failure_;
};

}  // namespace ringkv::resp
