// RESP2 encoding: each function appends one RESP2 value to `out`.
//
// Replies are built straight into a connection's output buffer, so a batch
// of pipelined replies costs no intermediate strings. append_command encodes
// a request (multibulk of bulk strings), for clients and tests.
//
// Pure functions; no I/O.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ringkv::resp {

// "+text\r\n". CR and LF in `text` become spaces (a simple string is one line).
void append_simple_string(std::string& out, std::string_view text);
// "-message\r\n", the message starting with an error code word such as
// "ERR" or "TIMEOUT". CR and LF become spaces.
void append_error(std::string& out, std::string_view message);
// ":value\r\n"
void append_integer(std::string& out, int64_t value);
// "$len\r\nbytes\r\n" (binary-safe).
void append_bulk_string(std::string& out, std::string_view bytes);
// "$-1\r\n": a missing value.
void append_null_bulk(std::string& out);
// "*count\r\n"; the caller appends `count` values next.
void append_array_header(std::string& out, size_t count);
// A request: "*n\r\n" then each argument as a bulk string (any container
// of strings or string_views).
template <typename Arguments>
void append_command(std::string& out, const Arguments& args) {
  append_array_header(out, args.size());
  for (std::string_view arg : args) append_bulk_string(out, arg);
}
inline void append_command(std::string& out, std::initializer_list<std::string_view> args) {
  append_command<std::initializer_list<std::string_view>>(out, args);
}

// One error reply on its own (append_error into a fresh string).
std::string encoded_error(std::string_view message);
// Redis's "-ERR wrong number of arguments for 'name' command", the name lower-cased.
std::string wrong_arity(std::string_view command);

}  // namespace ringkv::resp
