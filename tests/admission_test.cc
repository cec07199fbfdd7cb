// Admission (node/core/admission.h): the bounds on client requests in flight,
// per node and per connection, with explicit numbers.
#include "node/core/admission.h"

#include <doctest/doctest.h>

using ringkv::core::Admission;
using ringkv::core::AdmissionConfig;
using ringkv::core::Bound;

namespace {

AdmissionConfig small() {
  return AdmissionConfig{.requests_inflight_max = 4,
                         .bytes_inflight_max = 1000,
                         .connection_requests_inflight_max = 2,
                         .connection_bytes_inflight_max = 600};
}

}  // namespace

TEST_CASE("requests over the node's request cap are refused until a reply frees a place") {
  Admission admission(small());
  CHECK_FALSE(admission.admit(1, 10, 10));
  CHECK_FALSE(admission.admit(2, 10, 10));
  CHECK_FALSE(admission.admit(3, 10, 10));
  CHECK_FALSE(admission.admit(4, 10, 10));
  CHECK(admission.admit(5, 10, 10) == Bound::kNodeRequests);
  CHECK(admission.requests_inflight() == 4);
  CHECK(admission.bytes_inflight() == 40);
  admission.release(2, 10);
  CHECK_FALSE(admission.admit(5, 10, 10));
  CHECK(admission.refused() == 1);
  CHECK(admission.refused_by(Bound::kNodeRequests) == 1);
}

TEST_CASE("bytes over the node's byte cap are refused, but a request alone always passes") {
  Admission admission(small());
  CHECK_FALSE(admission.admit(1, 1, 500));
  CHECK_FALSE(admission.admit(2, 1, 500));
  CHECK(admission.admit(3, 1, 1) == Bound::kNodeBytes);
  admission.release(1, 1);
  admission.release(2, 1);
  CHECK(admission.requests_inflight() == 0);
  CHECK_FALSE(admission.admit(3, 1, 5000));  // larger than every bound, but alone
  CHECK(admission.admit(4, 1, 1) == Bound::kNodeBytes);
}

TEST_CASE("one connection cannot take the whole node: its own caps refuse it, others still pass") {
  Admission admission(small());
  CHECK_FALSE(admission.admit(7, 1, 100));
  CHECK_FALSE(admission.admit(7, 2, 100));
  CHECK(admission.admit(7, 3, 100) == Bound::kConnectionRequests);
  CHECK_FALSE(admission.admit(8, 1, 100));
  admission.release(7, 1);
  CHECK(admission.admit(7, 4, 550) == Bound::kConnectionBytes);  // 100 + 550 > 600
  CHECK_FALSE(admission.admit(7, 5, 450));
  CHECK(admission.refused_by(Bound::kConnectionRequests) == 1);
  CHECK(admission.refused_by(Bound::kConnectionBytes) == 1);
}

TEST_CASE("a release for a request that was never admitted changes nothing") {
  Admission admission(small());
  CHECK_FALSE(admission.admit(1, 1, 100));
  admission.release(1, 2);
  admission.release(9, 1);
  CHECK(admission.requests_inflight() == 1);
  CHECK(admission.bytes_inflight() == 100);
  admission.release(1, 1);
  admission.release(1, 1);  // a second reply to the same id
  CHECK(admission.requests_inflight() == 0);
  CHECK(admission.bytes_inflight() == 0);
}

TEST_CASE("a reused request id in flight twice is released once per reply") {
  Admission admission(small());
  CHECK_FALSE(admission.admit(1, 5, 100));
  CHECK_FALSE(admission.admit(1, 5, 200));
  admission.release(1, 5);
  CHECK(admission.requests_inflight() == 1);
  admission.release(1, 5);
  CHECK(admission.requests_inflight() == 0);
  CHECK(admission.bytes_inflight() == 0);
}

TEST_CASE("stats name the refusals by bound and what is in flight") {
  Admission admission(small());
  CHECK_FALSE(admission.admit(1, 1, 300));
  CHECK_FALSE(admission.admit(1, 2, 300));
  CHECK(admission.admit(1, 3, 1) == Bound::kConnectionRequests);
  std::vector<std::pair<std::string, uint64_t>> values;
  admission.add_stats(values);
  auto value = [&](const std::string& name) {
    for (const auto& [key, number] : values) {
      if (key == name) return number;
    }
    FAIL("no stat " << name);
    return uint64_t{0};
  };
  CHECK(value("requests_shed_busy") == 1);
  CHECK(value("requests_shed_connection_requests") == 1);
  CHECK(value("requests_shed_node_requests") == 0);
  CHECK(value("client_requests_inflight") == 2);
  CHECK(value("client_bytes_inflight") == 600);
  CHECK(admission.describe(Bound::kNodeRequests).find("--max-inflight-requests") != std::string::npos);
}

TEST_CASE("a configuration whose per-connection caps exceed the node's is invalid") {
  CHECK(small().validate().empty());
  AdmissionConfig config = small();
  config.connection_requests_inflight_max = 5;
  CHECK_FALSE(config.validate().empty());
  config = small();
  config.bytes_inflight_max = 0;
  CHECK_FALSE(config.validate().empty());
}

TEST_CASE("thousands of requests in flight, ids reused across connections and within one, release exactly") {
  // Enough to make the table grow several times and its probe runs collide.
  Admission admission(AdmissionConfig{.requests_inflight_max = 5000,
                                      .bytes_inflight_max = 1ull << 30,
                                      .connection_requests_inflight_max = 5000,
                                      .connection_bytes_inflight_max = 1ull << 30});
  uint64_t bytes = 0;
  for (uint64_t client = 1; client <= 40; ++client) {
    for (uint64_t id = 1; id <= 100; ++id) {
      CHECK_FALSE(admission.admit(client, id, client + id));
      bytes += client + id;
    }
  }
  // A msgpack client reusing an id while the first is in flight: two entries.
  CHECK_FALSE(admission.admit(7, 5, 1000));
  bytes += 1000;
  CHECK(admission.requests_inflight() == 4001);
  CHECK(admission.bytes_inflight() == bytes);
  admission.release(99, 1);  // never admitted: no-op
  admission.release(7, 101);
  CHECK(admission.requests_inflight() == 4001);
  // Release every other connection's requests, in an order unlike admission.
  for (uint64_t id = 100; id >= 1; --id) {
    for (uint64_t client = 2; client <= 40; client += 2) {
      admission.release(client, id);
      bytes -= client + id;
    }
  }
  CHECK(admission.requests_inflight() == 2001);
  CHECK(admission.bytes_inflight() == bytes);
  admission.release(7, 5);
  admission.release(7, 5);  // both admissions of the reused id
  CHECK(admission.requests_inflight() == 1999);
  admission.release(7, 5);  // none left
  CHECK(admission.requests_inflight() == 1999);
  for (uint64_t client = 1; client <= 40; client += 2) {
    for (uint64_t id = 1; id <= 100; ++id) admission.release(client, id);
  }
  CHECK(admission.requests_inflight() == 0);
  CHECK(admission.bytes_inflight() == 0);
}
