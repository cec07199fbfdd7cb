#include "node/metrics/exposition.h"

#include <cassert>
#include <charconv>
#include <cmath>

namespace ringkv::metrics {
namespace {

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }

void append_labels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  auto one = [&](std::string_view name, std::string_view value) {
    assert(valid_name(name) && name.find(':') == std::string_view::npos && "label names match [a-zA-Z_][a-zA-Z0-9_]*");
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    out += escape_label_value(value);
    out += '"';
  };
  for (const auto& [name, value] : labels) one(name, value);
  if (!extra_name.empty()) one(extra_name, extra_value);
  out += '}';
}

void append_sample(std::string& out, std::string_view name, const Labels& labels, double value,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  out += name;
  append_labels(out, labels, extra_name, extra_value);
  out += ' ';
  out += format_value(value);
  out += '\n';
}

// Backslash and newline always; double quotes inside label values only.
std::string escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

bool valid_name(std::string_view name) {
  if (name.empty() || !name_start(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!name_start(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string escape_label_value(std::string_view value) { return escape(value, true); }

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 9.007199254740992e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  // Plain decimals read best for bucket bounds ("0.0001", not "1e-04").
  char buffer[64];
  const double magnitude = std::fabs(value);
  const auto format = magnitude >= 1e-9 && magnitude < 1e15 ? std::chars_format::fixed : std::chars_format::general;
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, format);
  return std::string(buffer, result.ptr);
}

Exposition::Family& Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  assert(valid_name(name) && "metric names match [a-zA-Z_:][a-zA-Z0-9_:]*");
  for (Family& existing : families_) {
    if (existing.name == name) {
      assert(existing.type == type && existing.help == help && "a metric keeps one type and help text");
      return existing;
    }
  }
  families_.push_back(Family{std::string(name), std::string(type), std::string(help), {}});
  return families_.back();
}

void Exposition::counter(std::string_view name, std::string_view help, double value, Labels labels) {
  append_sample(family(name, "counter", help).samples, name, labels, value);
}

void Exposition::gauge(std::string_view name, std::string_view help, double value, Labels labels) {
  append_sample(family(name, "gauge", help).samples, name, labels, value);
}

void Exposition::histogram(std::string_view name, std::string_view help, const HistogramSample& sample,
                           Labels labels) {
  std::string& out = family(name, "histogram", help).samples;
  const std::string base(name);
  double previous_bound = -INFINITY;
  uint64_t previous_count = 0;
  for (const auto& [bound, count] : sample.cumulative_buckets) {
    assert(bound > previous_bound && count >= previous_count && count <= sample.count &&
           "histogram buckets ascend and are cumulative");
    previous_bound = bound;
    previous_count = count;
    append_sample(out, base + "_bucket", labels, static_cast<double>(count), "le", format_value(bound));
  }
  append_sample(out, base + "_bucket", labels, static_cast<double>(sample.count), "le", "+Inf");
  append_sample(out, base + "_sum", labels, sample.sum);
  append_sample(out, base + "_count", labels, static_cast<double>(sample.count));
}

std::string Exposition::take() {
  std::string out;
  for (const Family& family : families_) {
    out += "# HELP " + family.name + ' ' + escape(family.help, false) + '\n';
    out += "# TYPE " + family.name + ' ' + family.type + '\n';
    out += family.samples;
  }
  families_.clear();
  return out;
}

}  // namespace ringkv::metrics
