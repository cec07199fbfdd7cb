// Minimal JSON writing for `kv --json` output: one document on stdout.
#pragma once

#include <string>
#include <string_view>

namespace ringkv::cli {

bool is_valid_utf8(std::string_view bytes);
std::string base64_encode(std::string_view bytes);
// A JSON string literal (with quotes). REQUIRES: is_valid_utf8(text).
std::string json_string(std::string_view text);

// Appends `"name": <bytes>` to a JSON object under construction: the bytes as
// a string when they are valid UTF-8, else base64 with a sibling
// `"<encoding_field>": "base64"`.
void append_bytes_field(std::string& json, std::string_view name, std::string_view bytes,
                        std::string_view encoding_field);

}  // namespace ringkv::cli
