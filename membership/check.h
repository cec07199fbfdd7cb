// Always-on invariant checks for the membership module.
//
// A failed check is a programmer error (a broken invariant inside this module or a violated
// REQUIRES of its API), never a reaction to network input: malformed input is dropped and
// counted instead. The check stays on in release builds because a membership table that has
// silently gone wrong is worse than a crash with the invariant's name.
#pragma once

namespace ringkv::membership {

[[noreturn]] void check_failed(const char* condition, const char* invariant, const char* file,
                               int line);

}  // namespace ringkv::membership

#define MEMBERSHIP_CHECK(condition, invariant) \
  ((condition) ? static_cast<void>(0)          \
               : ::ringkv::membership::check_failed(#condition, invariant, __FILE__, __LINE__))
