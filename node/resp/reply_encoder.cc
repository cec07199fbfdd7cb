#include "node/resp/reply_encoder.h"

#include <charconv>

#include "node/resp/command_name.h"

namespace ringkv::resp {
namespace {

void append_number_line(std::string& out, char type, int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  (void)ec;  // 24 bytes hold any int64
  out.push_back(type);
  out.append(digits, end);
  out.append("\r\n", 2);
}

void append_line(std::string& out, char type, std::string_view text) {
  out.push_back(type);
  const size_t start = out.size();
  out.append(text);
  for (size_t i = start; i < out.size(); ++i) {
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  }
  out.append("\r\n", 2);
}

}  // namespace

void append_simple_string(std::string& out, std::string_view text) { append_line(out, '+', text); }

void append_error(std::string& out, std::string_view message) { append_line(out, '-', message); }

void append_integer(std::string& out, int64_t value) { append_number_line(out, ':', value); }

void append_bulk_string(std::string& out, std::string_view bytes) {
  append_number_line(out, '$', static_cast<int64_t>(bytes.size()));
  out.append(bytes);
  out.append("\r\n", 2);
}

void append_null_bulk(std::string& out) { out.append("$-1\r\n", 5); }

void append_array_header(std::string& out, size_t count) {
  append_number_line(out, '*', static_cast<int64_t>(count));
}

std::string encoded_error(std::string_view message) {
  std::string out;
  append_error(out, message);
  return out;
}

std::string wrong_arity(std::string_view command) {
  return encoded_error("ERR wrong number of arguments for '" + lower_case(command) + "' command");
}

}  // namespace ringkv::resp
