// ClusterSettings: what every node of a cluster must share, their text form
// on the wire, and the rule that hints expire before tombstones are purged.
#include <doctest/doctest.h>

#include "node/core/cluster_settings.h"

using ringkv::core::ClusterSettings;
using ringkv::core::first_difference;

TEST_CASE("the defaults are consistent and round-trip through their text form") {
  const ClusterSettings defaults;
  CHECK(defaults.validate().empty());
  CHECK(defaults.encode() == "replicas=3 tombstone_grace_s=864000 hint_window_s=10800 hint_ttl_s=86400");
  auto decoded = ClusterSettings::decode(defaults.encode());
  REQUIRE(decoded.has_value());
  CHECK(*decoded == defaults);
}

TEST_CASE("hints that could outlive a tombstone are refused, naming both settings") {
  ClusterSettings settings;
  settings.tombstone_grace_s = 3600;
  settings.hint_ttl_s = 7200;
  settings.hint_window_s = 600;
  const std::string problem = settings.validate();
  CHECK(problem.find("hint TTL 7200 s") != std::string::npos);
  CHECK(problem.find("tombstone grace 3600 s") != std::string::npos);
  settings.hint_ttl_s = 1800;
  CHECK(settings.validate().empty());
  settings.hint_window_s = 3600;
  CHECK(settings.validate().find("hint window") != std::string::npos);
  settings.hint_window_s = 600;
  settings.replicas = 0;
  CHECK(settings.validate().find("replicas") != std::string::npos);
}

TEST_CASE("the first differing setting is named with both values") {
  ClusterSettings ours;
  ours.replicas = 2;
  ClusterSettings theirs;
  CHECK(first_difference(ours, theirs.encode()) == "replicas: this node 2, the cluster 3");
  ours.replicas = 3;
  CHECK(first_difference(ours, theirs.encode()).empty());
  theirs.tombstone_grace_s = 864001;
  CHECK(first_difference(ours, theirs.encode()) ==
        "tombstone_grace_s: this node 864000, the cluster 864001");
  // Text this build cannot read (a newer node's) is quoted whole.
  CHECK(first_difference(ours, "replicas=3 zones=2").find("\"replicas=3 zones=2\"") != std::string::npos);
}

TEST_CASE("malformed settings text does not decode") {
  for (const char* text : {"", "replicas=", "replicas=x tombstone_grace_s=1 hint_window_s=1 hint_ttl_s=1",
                           "tombstone_grace_s=1 replicas=3 hint_window_s=1 hint_ttl_s=1",
                           "replicas=3 tombstone_grace_s=1 hint_window_s=1 hint_ttl_s=1 extra"}) {
    CHECK_FALSE(ClusterSettings::decode(text).has_value());
  }
}
