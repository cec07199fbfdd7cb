#include "node/resp/request_parser.h"

#include <cassert>
#include <charconv>
#include <cstdio>

#include "node/wire/spare_capacity.h"

namespace ringkv::resp {
namespace {

// "*<n>" and "$<len>" lines: a type byte, an optional sign, at most 19 digits.
constexpr size_t kHeaderLineBytesMax = 32;
// Consumed bytes are dropped from the front of the buffer once they are at
// least this many and half the buffer (amortised O(1) per byte).
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
  if (state_ == State::kFailed) return;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ >= kCompactBytesMin && consumed_ * 2 >= buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

void RequestParser::release_spare() { wire::release_spare(buffer_, consumed_); }

RequestParser::Status RequestParser::fail(std::string& error, std::string reason) {
  state_ = State::kFailed;
  failure_ = std::move(reason);
  error = failure_;
  args_.clear();
  return Status::kError;
}

int RequestParser::header_line(size_t bytes_max, std::string_view& line, std::string& error) {
  const std::string_view rest(buffer_.data() + consumed_, buffer_.size() - consumed_);
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
    switch (state_) {
      case State::kFailed:
        error = failure_;
        return Status::kError;

      case State::kStart: {
        if (consumed_ == buffer_.size()) return Status::kNeedMore;
        const char first = buffer_[consumed_];
        if (first != '*') {
          if (!is_letter(first) && first != ' ' && first != '\t' && first != '\r' && first != '\n') {
            return fail(error, "unexpected " + describe_byte(first) +
                                   " at the start of a command (expected '*' or an inline command)");
          }
          bool skipped = false;
          const Status status = next_inline(command, error, skipped);
          if (skipped) continue;
          return status;
        }
        std::string_view line;
        const int found = header_line(kHeaderLineBytesMax, line, error);
        if (found <= 0) return found == 0 ? Status::kNeedMore : Status::kError;
        long long count = 0;
        if (!parse_length(line.substr(1), count) || count < 0) {
          return fail(error, "invalid multibulk length '" + std::string(line.substr(1)) + "'");
        }
        if (count == 0) continue;  // "*0\r\n": an empty request, skipped as Redis does
        if (static_cast<unsigned long long>(count) > limits_.arguments_max) {
          return fail(error, "too many arguments (" + std::to_string(count) + ", at most " +
                                 std::to_string(limits_.arguments_max) + ")");
        }
        arguments_expected_ = static_cast<size_t>(count);
        command_bytes_ = 0;
        args_.clear();
        args_.reserve(std::min<size_t>(arguments_expected_, 64));
        state_ = State::kBulkHeader;
        continue;
      }

      case State::kBulkHeader: {
        if (consumed_ == buffer_.size()) return Status::kNeedMore;
        const char type = buffer_[consumed_];
        if (type != '$') return fail(error, "expected '$', got " + describe_byte(type));
        std::string_view line;
        const int found = header_line(kHeaderLineBytesMax, line, error);
        if (found <= 0) return found == 0 ? Status::kNeedMore : Status::kError;
        long long length = 0;
        if (!parse_length(line.substr(1), length) || length < 0) {
          return fail(error, "invalid bulk length '" + std::string(line.substr(1)) + "'");
        }
        const std::string_view name = args_.empty() ? std::string_view() : std::string_view(args_[0]);
        const size_t bound = argument_bytes_max(name, args_.size(), limits_);
        if (static_cast<unsigned long long>(length) > bound) {
          return fail(error, "bulk length " + std::to_string(length) + " of argument " +
                                 std::to_string(args_.size()) + " exceeds its limit of " +
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
        if (buffer_.size() - consumed_ < bulk_bytes_ + 2) return Status::kNeedMore;
        const char* data = buffer_.data() + consumed_;
        if (data[bulk_bytes_] != '\r' || data[bulk_bytes_ + 1] != '\n') {
          return fail(error, "bulk string not terminated by CRLF");
        }
        args_.emplace_back(data, bulk_bytes_);
        consumed_ += bulk_bytes_ + 2;
        command_bytes_ += bulk_bytes_;
        if (args_.size() < arguments_expected_) {
          state_ = State::kBulkHeader;
          continue;
        }
        state_ = State::kStart;
        command.swap(args_);
        args_.clear();
        return Status::kCommand;
      }
    }
  }
}

RequestParser::Status RequestParser::next_inline(Command& command, std::string& error, bool& skipped) {
  const std::string_view rest(buffer_.data() + consumed_, buffer_.size() - consumed_);
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
    const std::string_view name = command.empty() ? std::string_view() : std::string_view(command[0]);
    if (end - at > argument_bytes_max(name, command.size(), limits_)) {
      return fail(error, "argument " + std::to_string(command.size()) + " of inline command too long");
    }
    command.emplace_back(line.substr(at, end - at));
    at = end;
  }
  skipped = command.empty();
  return skipped ? Status::kNeedMore : Status::kCommand;
}

}  // namespace ringkv::resp
