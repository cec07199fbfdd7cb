// StatsMetrics: the Prometheus name of every `kv stats` counter, so one list
// of counters feeds both (node_metrics.cc renders the scrape from it).
//
// A stats name maps to a metric, its type, help text and at most one label:
// fixed ("port" = "resp" for `resp_connections_open`), or the rest of the
// name after a prefix ("target" = NAME for `hints_stored:NAME`). A few stats
// are not exported because the scrape carries them better in another form
// (latency percentiles: histograms; ring_state: a state set); those map to
// an entry with an empty metric name. metric_for_stat() returns nullptr only
// for a name nobody mapped, which core_test forbids.
//
// Pure, constant data.
#pragma once

#include <string>
#include <string_view>

namespace ringkv::core {

struct StatMetric {
  std::string_view stat;       // the stats name, or its prefix
  bool prefix;                 // the stats name starts with `stat`
  std::string_view metric;     // empty: not exported
  bool counter;                // else a gauge
  std::string_view help;
  std::string_view label;       // empty: none
  std::string_view label_value;  // empty with a label: the rest of the stats name
};

const StatMetric* metric_for_stat(std::string_view stat);

}  // namespace ringkv::core
