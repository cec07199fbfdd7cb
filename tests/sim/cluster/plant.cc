#include "tests/sim/cluster/plant.h"

namespace ringkv::cluster_sim {

std::optional<Plant> parse_plant(std::string_view name) {
  if (name == "none") return Plant::kNone;
  if (name == "drop-hints") return Plant::kDropHints;
  if (name == "lose-unsynced") return Plant::kLoseUnsynced;
  if (name == "skip-cleanup") return Plant::kSkipCleanup;
  return std::nullopt;
}

std::string_view plant_name(Plant plant) {
  switch (plant) {
    case Plant::kNone:
      return "none";
    case Plant::kDropHints:
      return "drop-hints";
    case Plant::kLoseUnsynced:
      return "lose-unsynced";
    case Plant::kSkipCleanup:
      return "skip-cleanup";
  }
  return "none";
}

}  // namespace ringkv::cluster_sim
