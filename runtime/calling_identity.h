// The identity of the caller of the transaction the current thread is executing (libbinder
// IPCThreadState::getCallingPid/Uid). Set by the runtime around each onTransact call, restored
// after it (nested calls stack); outside a transaction it is this process's own pid/euid.
// sender_pid is 0 for one-way calls (the driver does not report it).
#pragma once

#include <sys/types.h>

namespace nb::runtime {

struct CallingIdentity {
  pid_t pid = 0;
  uid_t uid = 0;
  bool in_transaction = false;
  bool oneway = false;
};

// The current thread's calling identity.
CallingIdentity callingIdentity();

namespace detail {
// Scoped setter used by the thread engine.
class CallingIdentityScope {
 public:
  explicit CallingIdentityScope(const CallingIdentity& identity);
  ~CallingIdentityScope();
  CallingIdentityScope(const CallingIdentityScope&) = delete;
  CallingIdentityScope& operator=(const CallingIdentityScope&) = delete;

 private:
  CallingIdentity saved_;
  bool had_saved_;
};
}  // namespace detail

}  // namespace nb::runtime
