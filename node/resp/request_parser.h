// RequestParser: splits a RESP2 byte stream from a client into commands.
//
// Two request forms, as Redis accepts them:
// - multibulk: "*<n>\r\n" then n bulk strings "$<len>\r\n<bytes>\r\n"
//   (what every client library and redis-benchmark send);
// - inline: one line of words separated by spaces or tabs, ended by "\n"
//   or "\r\n" (telnet, `nc`); no quoting. Empty lines are skipped.
// A command is a list of byte strings; args[0] is its name.
//
// Parsing in place: feed_in_place() lends the parser the caller's bytes and
// next() returns commands whose arguments are string_views into them, with
// no copy; keep_unparsed() then copies only what is left (a command cut by
// the end of the read, or commands the caller did not take yet) into the
// parser's own buffer, and must be called before the lent bytes go away.
// The next feed tops that partial command up from the new bytes (just the
// bytes it still lacks) and parses the rest of them in place again.
// feed() is feed_in_place() and keep_unparsed() in one (it copies all).
// A command's views stay valid until the next non-const call on the parser
// (and, when they point into lent bytes, while those live).
//
// Every bound (resp::Limits) is checked from the headers alone, before a
// buffer grows for the data they announce: argument count, each bulk
// length (per command and position, see argument_bytes_max), the command's
// total bytes, and the length of every line (a line that does not end within
// its bound is "unterminated"). The parser only ever buffers what the caller
// fed it and did not take, so memory stays at one maximal command plus one
// read.
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

#include "node/resp/command_name.h"
#include "node/resp/limits.h"

namespace ringkv::resp {

// Views into the parser's input (see "Parsing in place" above).
using Command = std::vector<std::string_view>;

class RequestParser {
 public:
  // REQUIRES: limits.validate() is empty.
  explicit RequestParser(const Limits& limits);

  // Copies `bytes` to the end of the input.
  void feed(std::string_view bytes);
  // Lends `bytes` as the end of the input. REQUIRES: every earlier lent
  // input was kept (keep_unparsed()); `bytes` stay alive until
  // keep_unparsed().
  void feed_in_place(std::string_view bytes);
  // Copies the lent bytes not yet returned as part of a command into the
  // parser's own buffer (nothing when they were all taken).
  void keep_unparsed();

  enum class Status { kCommand, kNeedMore, kError };
  // kCommand: `command` holds the next command (its previous contents are
  // replaced). kError: `error` says what was wrong; every later call returns
  // kError again.
  Status next(Command& command, std::string& error);

  // Bytes fed but not yet returned as part of a command.
  size_t buffered_bytes() const { return input().size() - consumed_ + lent_rest_.size(); }
  // Gives back buffer capacity far above what is left unparsed (call once a
  // read was handled and kept): an idle connection then keeps no read-sized
  // buffer, so a thousand of them cost kilobytes, not a read buffer each.
  void release_spare();

 private:
  enum class State { kStart, kBulkHeader, kBulkBody, kFailed };

  // One argument of the command being parsed, from command_start_.
  struct Span {
    size_t offset = 0;
    size_t length = 0;
  };

  // What next() parses: the lent bytes, or the parser's own buffer.
  std::string_view input() const { return lent_ ? lent_input_ : std::string_view(buffer_); }
  // Where the bytes still needed begin: the partial command's start, or
  // consumed_ between commands.
  size_t kept_from() const { return state_ == State::kStart ? consumed_ : command_start_; }
  Status parse(Command& command, std::string& error);
  // Moves the bytes the buffered partial command lacks from lent_rest_ to
  // the buffer. REQUIRES: !lent_ and !lent_rest_.empty().
  void top_up();
  // Appends to the buffer, first dropping the bytes before kept_from() once
  // they are many and most of it (amortised O(1) per byte).
  void append_to_buffer(std::string_view bytes);
  Status fail(std::string& error, std::string reason);
  Status next_inline(std::string_view input, Command& command, std::string& error, bool& skipped);
  // Finds the line at consumed_ ending in CRLF within `bytes_max` bytes.
  // Returns 1 with `line` set, 0 when more bytes are needed, -1 on error.
  int header_line(std::string_view input, size_t bytes_max, std::string_view& line, std::string& error);
  // The length in a well-formed "<type><digits>\r\n" line at consumed_,
  // which it then consumes; -1 (nothing consumed) for anything else, which
  // header_line() and its checks then take.
  long long plain_header(std::string_view input);
  // Reads the "*<count>" or "$<length>" line at consumed_ into `length`
  // (`what` names it in the error). Returns as header_line().
  int length_line(std::string_view input, std::string_view what, long long& length, std::string& error);

  Limits limits_;
  State state_ = State::kStart;
  std::string buffer_;
  // Parsing lent bytes (lent_input_) rather than buffer_.
  bool lent_ = false;
  std::string_view lent_input_;
  // Lent bytes behind a partial command in buffer_, to top it up from.
  std::string_view lent_rest_;
  size_t consumed_ = 0;  // in input()
  size_t command_start_ = 0;  // in input(): where the multibulk command being parsed begins
  size_t arguments_expected_ = 0;
  size_t bulk_bytes_ = 0;
  size_t command_bytes_ = 0;
  CommandName name_ = CommandName::kUnknown;  // of the multibulk command being parsed, once its name is in
  std::vector<Span> spans_;
  std::string failure_;
};

}  // namespace ringkv::resp
