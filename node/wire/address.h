// HOST:PORT parsing and formatting for IPv4 socket addresses (shared by the
// node and the CLI; no I/O).
#pragma once

#include <netinet/in.h>

#include <expected>
#include <string>
#include <string_view>

namespace ringkv::wire {

// Parses "HOST:PORT" where HOST is a dotted IPv4 address or "localhost".
std::expected<sockaddr_in, std::string> parse_address(std::string_view text);
std::string format_address(const sockaddr_in& address);

}  // namespace ringkv::wire
