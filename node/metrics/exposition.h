// Exposition: builds one scrape in the Prometheus text format (version
// 0.0.4), the body of GET /metrics.
//
// Callers add samples family by family, in any order; take() renders each
// family once, in the order it was first added, as "# HELP", "# TYPE" and its
// samples, which is what the format requires (`promtool check metrics`).
// Label values are escaped (backslash, double quote, newline); metric and
// label names must match [a-zA-Z_:][a-zA-Z0-9_:]* and a name keeps one type
// and help text (both are programmer errors, asserted). Histograms are
// rendered cumulatively with their own upper bounds plus "+Inf", `_sum` and
// `_count`. Values print as integers when they are whole, so counters stay
// exact up to 2^53.
//
// Pure: no I/O, no clock. Not thread-safe (one per scrape).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringkv::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

// A histogram as Prometheus wants it: bucket upper bounds (ascending, in the
// metric's unit) with the count of samples at or under each, plus the sum
// and count of every sample.
struct HistogramSample {
  std::vector<std::pair<double, uint64_t>> cumulative_buckets;
  double sum = 0;
  uint64_t count = 0;
};

class Exposition {
 public:
  void counter(std::string_view name, std::string_view help, double value, Labels labels = {});
  void gauge(std::string_view name, std::string_view help, double value, Labels labels = {});
  void histogram(std::string_view name, std::string_view help, const HistogramSample& sample,
                 Labels labels = {});

  // The whole scrape; the exposition is empty afterwards.
  std::string take();

 private:
  struct Family {
    std::string name;
    std::string type;
    std::string help;
    std::string samples;  // rendered lines
  };
  Family& family(std::string_view name, std::string_view type, std::string_view help);

  std::vector<Family> families_;
};

// True when `name` is a valid metric or label name.
bool valid_name(std::string_view name);
// `value` escaped for a label value (\\, \", \n).
std::string escape_label_value(std::string_view value);
// A sample value as the format prints it: whole numbers without a fraction,
// "+Inf", "-Inf", "NaN", others shortest round-trip.
std::string format_value(double value);

}  // namespace ringkv::metrics
