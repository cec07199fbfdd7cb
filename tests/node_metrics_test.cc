// The node's Prometheus scrape: every `kv stats` counter has a metric name
// (stats_metrics.h), and NodeCore::write_metrics renders what a request moved.
#include <doctest/doctest.h>

#include <string>

#include "node/core/latency_histogram.h"
#include "node/core/node_core.h"
#include "node/core/stats_metrics.h"
#include "node/io/connection_limits.h"
#include "node/trust/refusal.h"
#include "storage/memory_engine.h"

using namespace ringkv;

namespace {

membership::Swim make_swim() {
  membership::Member self;
  self.id = std::string(membership::kNodeIdBytes, 1);
  self.name = "node1";
  self.address = "127.0.0.1:7001";
  self.ring_status = membership::RingStatus::kNormal;
  self.vnode_count = 64;
  auto swim = membership::Swim::create(membership::Config{}, self, /*generation=*/1, /*rng_seed=*/1, 0);
  REQUIRE(swim.has_value());
  swim->join({}, 0);
  return std::move(*swim);
}

struct Fixture {
  storage::MemoryEngine engine{storage::Options{.clock_us = [] { return uint64_t{0}; }}};
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  core::NodeCore core{core::NodeConfig{}, store, /*tiebreak=*/7, make_swim(), core::Now{}};

  wire::Body call(wire::Body request, uint64_t now_us) {
    core.handle_client(1, "127.0.0.9:5555", core::Channel::kClient, wire::Message{99, std::move(request)},
                       core::Now{now_us, static_cast<membership::TimeMs>(now_us / 1000)});
    auto out = core.take_outgoing();
    REQUIRE(out.size() == 1);
    return out[0].message.body;
  }
  std::string scrape(uint64_t now_us) {
    metrics::Exposition out;
    core.write_metrics(out, core::Now{now_us, static_cast<membership::TimeMs>(now_us / 1000)});
    return out.take();
  }
};

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("every stats counter, the I/O layer's included, has a metric name") {
  Fixture f;
  f.call(wire::PutRequest{"k", "v"}, 1000);
  f.core.set_extra_stats([](std::vector<std::pair<std::string, uint64_t>>& values) {
    trust::RefusalCounters{}.add_stats(values);
    io::ConnectionLimits limits{io::ConnectionLimitsConfig{}};
    for (const char* port : {"", "resp_", "metrics_"}) limits.add_stats(port, values);
    values.emplace_back("metrics_requests_refused", 0);
  });
  const auto stats = std::get<wire::StatsReply>(f.call(wire::StatsRequest{}, 2000));
  REQUIRE(stats.values.size() > 40);
  for (const auto& [name, value] : stats.values) {
    CAPTURE(name);
    CHECK(core::metric_for_stat(name) != nullptr);
  }
  CHECK(core::metric_for_stat("no_such_counter") == nullptr);
  CHECK(core::metric_for_stat("hints_stored:n2")->label == "target");
  // An exact name wins over a prefix that also matches it.
  CHECK(core::metric_for_stat("requests_shed_busy")->metric == "ringkv_requests_busy_total");
  CHECK(core::metric_for_stat("requests_shed_node_bytes")->label == "bound");
}

TEST_CASE("a scrape shows the requests made, per operation and consistency level") {
  Fixture f;
  f.call(wire::PutRequest{"k", "v", wire::Consistency::kOne}, 1000);
  f.call(wire::PutRequest{"k2", "v"}, 2000);
  f.call(wire::GetRequest{"k", wire::Consistency::kOne}, 3000);
  const std::string text = f.scrape(4000);
  CHECK(has_line(text, "ringkv_coordinator_writes_total 2"));
  CHECK(has_line(text, "ringkv_coordinator_reads_total 1"));
  CHECK(has_line(text, "ringkv_request_duration_seconds_count{op=\"put\",consistency=\"one\"} 1"));
  CHECK(has_line(text, "ringkv_request_duration_seconds_count{op=\"put\",consistency=\"quorum\"} 1"));
  CHECK(has_line(text, "ringkv_request_duration_seconds_count{op=\"get\",consistency=\"one\"} 1"));
  CHECK(text.find("consistency=\"all\"") == std::string::npos);
  CHECK(has_line(text, "ringkv_members{liveness=\"alive\"} 1"));
  CHECK(has_line(text, "ringkv_ring_state{state=\"normal\"} 1"));
  CHECK(has_line(text, "ringkv_ring_ownership_ratio{kind=\"primary\"} 1"));
  CHECK(has_line(text, "# TYPE ringkv_client_refusals_total counter"));
  // Percentiles are carried by the histograms, not as gauges of their own.
  CHECK(text.find("p99") == std::string::npos);
}

TEST_CASE("latency histograms count samples under a bound and keep their sum") {
  core::LatencyHistogram histogram;
  histogram.record(50);
  histogram.record(2000);
  CHECK(histogram.count_at_or_under(49) == 0);
  CHECK(histogram.count_at_or_under(100) == 1);
  CHECK(histogram.count_at_or_under(1000) == 1);
  CHECK(histogram.count_at_or_under(10'000) == 2);
  CHECK(histogram.sum_micros() == 2050);
}

TEST_CASE("hints pending show per target with their bytes and the age of the oldest, until delivered") {
  Fixture f;
  const std::string target(membership::kNodeIdBytes, 'z');  // a member the ring does not hold
  const storage::Record record{{1'000'000, 1}, false, "value"};
  REQUIRE(*f.store.store_hint(target, "hk", record, 1'000'000));
  REQUIRE(*f.store.store_hint(target, "hk2", record, 2'000'000));
  std::string text = f.scrape(3'500'000);
  CHECK(has_line(text, "ringkv_hints_pending{target=\"unknown\"} 2"));
  CHECK(has_line(text, "ringkv_hints_pending_bytes{target=\"unknown\"} 15"));  // "hk" + "hk2" + 2 x "value"
  CHECK(has_line(text, "ringkv_hints_oldest_age_seconds{target=\"unknown\"} 2.5"));
  const auto hints = f.store.hints_for(target, 10, 0);
  REQUIRE(hints.has_value());
  for (const storage::Hint& hint : *hints) REQUIRE(f.store.drop_hint(hint));
  text = f.scrape(4'000'000);
  CHECK(text.find("ringkv_hints_pending_bytes{") == std::string::npos);
  CHECK(text.find("ringkv_hints_oldest_age_seconds{") == std::string::npos);
}
