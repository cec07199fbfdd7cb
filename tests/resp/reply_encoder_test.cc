// RESP2 encoding of every reply type.
#include <doctest/doctest.h>

#include "node/resp/reply_encoder.h"

using namespace ringkv::resp;

TEST_CASE("each RESP2 type is encoded as Redis does") {
  std::string out;
  append_simple_string(out, "OK");
  append_error(out, "ERR bad\r\nthing");
  append_integer(out, -42);
  append_bulk_string(out, std::string("a\0b", 3));
  append_null_bulk(out);
  append_array_header(out, 2);
  CHECK(out == std::string("+OK\r\n-ERR bad  thing\r\n:-42\r\n$3\r\na\0b\r\n$-1\r\n*2\r\n", 46));
}

TEST_CASE("a command is an array of bulk strings") {
  std::string out;
  append_command(out, {"GET", ""});
  CHECK(out == "*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
}
