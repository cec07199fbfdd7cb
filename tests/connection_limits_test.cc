// node/io/connection_limits: the per-port connection cap and idle timeout.
#include <doctest/doctest.h>

#include "node/io/connection_limits.h"

using ringkv::io::ConnectionLimits;

TEST_CASE("a connection over the cap is refused and counted, and room returns when one closes") {
  ConnectionLimits limits({.connections_max = 2, .idle_timeout_ms = 1000});
  CHECK(limits.admit(1, 0));
  CHECK(limits.admit(2, 0));
  CHECK_FALSE(limits.admit(3, 0));
  CHECK(limits.refused_over_cap() == 1);
  CHECK(limits.open() == 2);
  limits.closed(1);
  CHECK(limits.admit(4, 0));
}

TEST_CASE("a connection that sends nothing for the idle timeout is reported once") {
  ConnectionLimits limits({.connections_max = 10, .idle_timeout_ms = 1000});
  REQUIRE(limits.admit(1, 0));
  REQUIRE(limits.admit(2, 0));
  limits.touch(2, 600);
  CHECK(limits.take_idle(999).empty());
  CHECK(limits.take_idle(1000) == std::vector<uint64_t>{1});
  CHECK(limits.take_idle(1500).empty());  // already reported; closing it is the caller's job
  CHECK(limits.take_idle(1600) == std::vector<uint64_t>{2});
  CHECK(limits.closed_idle() == 2);
}

TEST_CASE("an idle timeout of zero never closes anything") {
  ConnectionLimits limits({.connections_max = 10, .idle_timeout_ms = 0});
  REQUIRE(limits.admit(1, 0));
  CHECK(limits.take_idle(1'000'000'000).empty());
}

TEST_CASE("the limits' stats name every counter under the port's prefix") {
  ConnectionLimits limits({.connections_max = 1, .idle_timeout_ms = 10});
  REQUIRE(limits.admit(1, 0));
  CHECK_FALSE(limits.admit(2, 0));
  std::vector<std::pair<std::string, uint64_t>> values;
  limits.add_stats("resp_", values);
  CHECK(values == std::vector<std::pair<std::string, uint64_t>>{{"resp_connections_open", 1},
                                                                {"resp_connections_refused_over_cap", 1},
                                                                {"resp_connections_closed_idle", 0}});
}
