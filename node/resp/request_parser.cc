#include "node/resp/request_parser.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstdio>

#include "node/wire/spare_capacity.h"

namespace ringkv::resp {
namespace {

// "*<n>" and "$<len>" lines: a type byte, an optional sign, at most 19 digits.
constexpr size_t kHeaderLineBytesMax = 32;
// Bytes no longer needed are dropped from the front of the buffer once they
// are at least this many and half the buffer (amortised O(1) per byte).
constexpr size_t kCompactBytesMin = 4096;

std::string describe_byte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  char text[32];
  if (byte >= 0x20 && byte < 0x7f) {
    std::snprintf(text, sizeof(text), "'%c'", c);
  } else {
    std::snprintf(text, sizeof(text), "byte 0x%02x", byte);
  }
  return text;
}

// Parses a decimal integer that fills `text` exactly.
bool parse_length(std::string_view text, long long& out) {
  if (text.empty() || text.size() > 20) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

RequestParser::RequestParser(const Limits& limits) : limits_(limits) {
  assert(limits_.validate().empty() && "RequestParser needs consistent limits");
}

void RequestParser::feed(std::string_view bytes) {
  feed_in_place(bytes);
  keep_unparsed();
}

void RequestParser::feed_in_place(std::string_view bytes) {
  assert(!lent_ && lent_rest_.empty() && "the previous lent input was kept");
  if (state_ == State::kFailed) return;
  if (kept_from() < buffer_.size()) {
    lent_rest_ = bytes;  // buffered bytes come first (a partial command is topped up)
    return;
  }
  buffer_.clear();
  consumed_ = 0;
  command_start_ = 0;
  lent_ = true;
  lent_input_ = bytes;
}

void RequestParser::keep_unparsed() {
  if (state_ == State::kFailed) {  // nothing more is parsed: keep nothing
    buffer_.clear();
    consumed_ = command_start_ = 0;
    lent_ = false;
    lent_input_ = lent_rest_ = {};
    return;
  }
  if (lent_) {
    const size_t from = kept_from();
    buffer_.assign(lent_input_.substr(from));
    consumed_ -= from;
    command_start_ -= std::min(command_start_, from);
    lent_ = false;
    lent_input_ = {};
  }
  append_to_buffer(lent_rest_);
  lent_rest_ = {};
}

void RequestParser::append_to_buffer(std::string_view bytes) {
  if (bytes.empty()) return;
  const size_t from = kept_from();
  if (from == buffer_.size()) {
    buffer_.clear();
    consumed_ = command_start_ = 0;
  } else if (from >= kCompactBytesMin && from * 2 >= buffer_.size()) {
    buffer_.erase(0, from);
    consumed_ -= from;
    command_start_ -= std::min(command_start_, from);
  }
  buffer_.append(bytes);
}

void RequestParser::top_up() {
  const std::string_view buffered = std::string_view(buffer_).substr(consumed_);
  size_t take = lent_rest_.size();
  if (state_ == State::kBulkBody) {
    take = bulk_bytes_ + 2 - buffered.size();  // the body and its CRLF
  } else if (const size_t newline = lent_rest_.find('\n'); newline != std::string_view::npos) {
    take = newline + 1;  // the rest of a header or inline line
  }
  take = std::min(take, lent_rest_.size());
  append_to_buffer(lent_rest_.substr(0, take));
  lent_rest_.remove_prefix(take);
}

void RequestParser::release_spare() {
  assert(!lent_ && lent_rest_.empty() && "lent input was kept first");
  size_t from = kept_from();
  const size_t before = from;
  wire::release_spare(buffer_, from);
  consumed_ -= before - from;
  command_start_ -= std::min(command_start_, before - from);
}

RequestParser::Status RequestParser::fail(std::string& error, std::string reason) {
  state_ = State::kFailed;
  failure_ = std::move(reason);
  error = failure_;
  spans_.clear();
  return Status::kError;
}

long long RequestParser::plain_header(std::string_view input) {
  constexpr size_t kDigitsMax = 18;  // any such number fits a long long
  const size_t digits_end = std::min(input.size(), consumed_ + 1 + kDigitsMax);
  long long value = 0;
  size_t at = consumed_ + 1;
  for (; at < digits_end && input[at] >= '0' && input[at] <= '9'; ++at) value = value * 10 + (input[at] - '0');
  if (at == consumed_ + 1 || at + 1 >= input.size() || input[at] != '\r' || input[at + 1] != '\n') return -1;
  consumed_ = at + 2;
  return value;
}

int RequestParser::length_line(std::string_view input, std::string_view what, long long& length,
                               std::string& error) {
  length = plain_header(input);
  if (length >= 0) return 1;
  std::string_view line;
  const int found = header_line(input, kHeaderLineBytesMax, line, error);
  if (found <= 0) return found;
  if (!parse_length(line.substr(1), length) || length < 0) {
    fail(error, "invalid " + std::string(what) + " length '" + std::string(line.substr(1)) + "'");
    return -1;
  }
  return 1;
}

int RequestParser::header_line(std::string_view input, size_t bytes_max, std::string_view& line,
                               std::string& error) {
  const std::string_view rest = input.substr(consumed_);
  const size_t newline = rest.find('\n', 0);
  if (newline == std::string_view::npos || newline > bytes_max) {
    if (rest.size() > bytes_max) {
      fail(error, "unterminated line (no CRLF within " + std::to_string(bytes_max) + " bytes)");
      return -1;
    }
    return 0;
  }
  if (newline == 0 || rest[newline - 1] != '\r') {
    fail(error, "line not terminated by CRLF");
    return -1;
  }
  line = rest.substr(0, newline - 1);
  consumed_ += newline + 1;
  return 1;
}

RequestParser::Status RequestParser::next(Command& command, std::string& error) {
  while (true) {
    if (!lent_ && consumed_ == buffer_.size() && state_ == State::kStart && !lent_rest_.empty()) {
      // The buffered commands are all taken: parse the rest of the lent bytes in place.
      buffer_.clear();
      consumed_ = command_start_ = 0;
      lent_ = true;
      lent_input_ = lent_rest_;
      lent_rest_ = {};
    }
    const Status status = parse(command, error);
    if (status != Status::kNeedMore || lent_ || lent_rest_.empty()) return status;
    top_up();
  }
}

RequestParser::Status RequestParser::parse(Command& command, std::string& error) {
  const std::string_view input = this->input();
  while (true) {
    switch (state_) {
      case State::kFailed:
        error = failure_;
        return Status::kError;

      case State::kStart: {
        if (consumed_ == input.size()) return Status::kNeedMore;
        const char first = input[consumed_];
        if (first != '*') {
          if (!is_letter(first) && first != ' ' && first != '\t' && first != '\r' && first != '\n') {
            return fail(error, "unexpected " + describe_byte(first) +
                                   " at the start of a command (expected '*' or an inline command)");
          }
          bool skipped = false;
          const Status status = next_inline(input, command, error, skipped);
          if (skipped) continue;
          return status;
        }
        const size_t start = consumed_;
        long long count = 0;
        const int found = length_line(input, "multibulk", count, error);
        if (found <= 0) return found == 0 ? Status::kNeedMore : Status::kError;
        if (count == 0) continue;  // "*0\r\n": an empty request, skipped as Redis does
        if (static_cast<unsigned long long>(count) > limits_.arguments_max) {
          return fail(error, "too many arguments (" + std::to_string(count) + ", at most " +
                                 std::to_string(limits_.arguments_max) + ")");
        }
        arguments_expected_ = static_cast<size_t>(count);
        command_start_ = start;
        command_bytes_ = 0;
        name_ = CommandName::kUnknown;
        spans_.clear();
        state_ = State::kBulkHeader;
        continue;
      }

      case State::kBulkHeader: {
        if (consumed_ == input.size()) return Status::kNeedMore;
        const char type = input[consumed_];
        if (type != '$') return fail(error, "expected '$', got " + describe_byte(type));
        long long length = 0;
        const int found = length_line(input, "bulk", length, error);
        if (found <= 0) return found == 0 ? Status::kNeedMore : Status::kError;
        const size_t bound = argument_bytes_max(name_, spans_.size(), limits_);
        if (static_cast<unsigned long long>(length) > bound) {
          return fail(error, "bulk length " + std::to_string(length) + " of argument " +
                                 std::to_string(spans_.size()) + " exceeds its limit of " +
                                 std::to_string(bound) + " bytes");
        }
        if (command_bytes_ + static_cast<size_t>(length) > limits_.command_bytes_max) {
          return fail(error, "command larger than " + std::to_string(limits_.command_bytes_max) + " bytes");
        }
        bulk_bytes_ = static_cast<size_t>(length);
        state_ = State::kBulkBody;
        continue;
      }

      case State::kBulkBody: {
        if (input.size() - consumed_ < bulk_bytes_ + 2) return Status::kNeedMore;
        const char* data = input.data() + consumed_;
        if (data[bulk_bytes_] != '\r' || data[bulk_bytes_ + 1] != '\n') {
          return fail(error, "bulk string not terminated by CRLF");
        }
        if (spans_.empty()) name_ = command_of(std::string_view(data, bulk_bytes_));
        spans_.push_back(Span{consumed_ - command_start_, bulk_bytes_});
        consumed_ += bulk_bytes_ + 2;
        command_bytes_ += bulk_bytes_;
        if (spans_.size() < arguments_expected_) {
          state_ = State::kBulkHeader;
          continue;
        }
        state_ = State::kStart;
        command.clear();
        for (const Span& span : spans_) command.push_back(input.substr(command_start_ + span.offset, span.length));
        return Status::kCommand;
      }
    }
  }
}

RequestParser::Status RequestParser::next_inline(std::string_view input, Command& command, std::string& error,
                                                 bool& skipped) {
  const std::string_view rest = input.substr(consumed_);
  const size_t newline = rest.find('\n');
  if (newline == std::string_view::npos || newline > limits_.inline_bytes_max) {
    if (rest.size() > limits_.inline_bytes_max) {
      return fail(error, "unterminated inline command (no newline within " +
                             std::to_string(limits_.inline_bytes_max) + " bytes)");
    }
    return Status::kNeedMore;
  }
  std::string_view line = rest.substr(0, newline);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  consumed_ += newline + 1;
  command.clear();
  size_t at = 0;
  while (at < line.size()) {
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
    if (at == line.size()) break;
    size_t end = at;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    if (command.size() == limits_.arguments_max) {
      return fail(error, "too many arguments in inline command (at most " +
                             std::to_string(limits_.arguments_max) + ")");
    }
    const std::string_view name = command.empty() ? std::string_view() : command[0];
    if (end - at > argument_bytes_max(name, command.size(), limits_)) {
      return fail(error, "argument " + std::to_string(command.size()) + " of inline command too long");
    }
    command.push_back(line.substr(at, end - at));
    at = end;
  }
  skipped = command.empty();
  return skipped ? Status::kNeedMore : Status::kCommand;
}

}  // namespace ringkv::resp
