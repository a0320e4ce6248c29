// The test service the integration tests register and call ("nb.test.IEcho").
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/binder.h"
#include "runtime/process_state.h"

namespace nb::runtime::testing {

inline constexpr char16_t kEchoDescriptor[] = u"nb.test.IEcho";
enum EchoCode : uint32_t {
  kEcho = 1,           // String16 → String16
  kCallBack = 2,       // binder cb, int32 v → cb(code 1, v) → int32
  kOnewayRecord = 3,   // one-way int32 seq
  kGetRecorded = 4,    // → int32 count, bool in order
  kReadFd = 5,         // fd → String8 content
  kMakeFd = 6,         // → fd with "from service"
  kGetCaller = 7,      // → int32 pid, int32 uid
  kAdd = 8,            // int32 a, int32 b → int32 a + b (after a short sleep)
  kMakeObject = 9,     // → a new binder (a TidCallback) the service keeps only a weak_ptr to
  kObjectAlive = 10,   // → bool: that object still exists
  kReturnBinder = 11,  // binder → the same binder
};

class EchoService final : public LocalBinder {
 public:
  explicit EchoService(std::shared_ptr<ProcessState> state);
  ~EchoService() override;

 protected:
  absl::Status onTransact(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                          uint32_t flags) override;

 private:
  absl::Status callBack(codec::ParcelReader& data, codec::ParcelWriter* reply);
  absl::Status readFd(codec::ParcelReader& data, codec::ParcelWriter* reply);
  absl::Status makeFd(codec::ParcelWriter* reply);

  const std::shared_ptr<ProcessState> state_;
  std::mutex mu_;
  std::vector<int32_t> recorded_;    // guarded by mu_
  std::vector<int> sent_fds_;        // guarded by mu_; closed at destruction
  std::weak_ptr<LocalBinder> made_;  // guarded by mu_
};

// A callback object (code 1: int32 v → v + 1) that records the thread it ran on.
class TidCallback final : public LocalBinder {
 public:
  TidCallback() : LocalBinder(u"nb.test.ICallback") {}
  std::atomic<pid_t> tid{0};

 protected:
  absl::Status onTransact(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                          uint32_t flags) override;
};

}  // namespace nb::runtime::testing
