// Stats: BC/BR counters and object counts for the debugfs "stats" dump (kernel struct
// binder_stats).
#pragma once

#include <linux/android/binder.h>

#include <array>
#include <cstdint>

namespace nb::driver {

enum class StatObj : uint8_t {
  kProc,
  kThread,
  kNode,
  kRef,
  kDeath,
  kTransaction,
  kTransactionComplete,
  kCount
};

struct Stats {
  static constexpr size_t kBrCount = _IOC_NR(BR_ONEWAY_SPAM_SUSPECT) + 1;
  static constexpr size_t kBcCount = _IOC_NR(BC_REPLY_SG) + 1;
  static constexpr size_t kObjCount = static_cast<size_t>(StatObj::kCount);

  void countBr(uint32_t cmd) {
    if (_IOC_NR(cmd) < kBrCount) {
      ++br[_IOC_NR(cmd)];
    }
  }
  void countBc(uint32_t cmd) {
    if (_IOC_NR(cmd) < kBcCount) {
      ++bc[_IOC_NR(cmd)];
    }
  }
  void created(StatObj o) { ++obj_created[static_cast<size_t>(o)]; }
  void deleted(StatObj o) { ++obj_deleted[static_cast<size_t>(o)]; }

  std::array<uint64_t, kBcCount> bc{};
  std::array<uint64_t, kBrCount> br{};
  std::array<uint64_t, kObjCount> obj_created{};
  std::array<uint64_t, kObjCount> obj_deleted{};
};

}  // namespace nb::driver
