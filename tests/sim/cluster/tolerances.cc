#include "tests/sim/cluster/tolerances.h"

namespace ringkv::cluster_sim {

std::optional<Tolerances> parse_tolerances(std::string_view list) {
  Tolerances tolerances;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view name = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (name == "none" || name.empty()) continue;
    if (name == "known") {
      tolerances = Tolerances{true, true};
    } else if (name == "stand-in-hint-loss") {
      tolerances.stand_in_hint_loss = true;
    } else if (name == "unflushed-hints") {
      tolerances.unflushed_hints = true;
    } else {
      return std::nullopt;
    }
  }
  return tolerances;
}

std::string tolerances_text(const Tolerances& tolerances) {
  std::string text;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!text.empty()) text += ",";
    text += name;
  };
  add(tolerances.stand_in_hint_loss, "stand-in-hint-loss");
  add(tolerances.unflushed_hints, "unflushed-hints");
  return text.empty() ? "none" : text;
}

}  // namespace ringkv::cluster_sim
