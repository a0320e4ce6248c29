// Device: the five syscalls a Binder runtime needs (open, ioctl, mmap, munmap, close) plus a
// pollable fd, behind one interface with two backends:
//
//   * kernel:  plain syscalls on a character device (/dev/binder, /dev/binderfs/<name>, ...);
//   * binderd: the syscall-shaped client library (local_driver/client/binder_client.h), which
//     forwards every call to the userspace driver over a per-thread Unix socket.
//
// Device selection is the same for every netbinder binary (resolveDevice below):
//   1. `--device PATH` when given: a character device selects the kernel backend; anything else
//      (a socket path, or a device name such as "binder") selects binderd;
//   2. else, when $NETBINDER_DIR is set: binderd's `binder` device in that directory;
//   3. else /dev/binder on the kernel driver.
//
// A Device is owned by one ProcessState (unique_ptr). All calls are thread-safe (they are
// syscalls, or calls into the thread-safe client library).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace nb::runtime {

enum class Backend : uint8_t {
  kKernel,   // the Linux Binder driver, through plain syscalls
  kBinderd,  // netbinder's userspace driver, through nb_binder_client
};

const char* backendName(Backend backend);

// Which device to open and through which backend.
struct DeviceSpec {
  Backend backend = Backend::kKernel;
  // kKernel: the character device path. kBinderd: what nb_binder_open() takes (a socket path, a
  // device name, or a /dev-style path whose last component names the device).
  std::string path = "/dev/binder";

  std::string toString() const;  // "kernel:/dev/binder", "binderd:/tmp/x/binder"
};

// The selection rule above. `device_flag` is the value of --device, if any. `netbinder_dir` is
// $NETBINDER_DIR (nullopt: read it from the environment now; "" counts as unset).
DeviceSpec resolveDevice(std::optional<std::string> device_flag,
                         std::optional<std::string> netbinder_dir = std::nullopt);

// Who owns the node behind a handle (binderd's NB_IOC_REF_OWNER, local_driver/client/
// netbinder_ioctl.h).
struct RefOwner {
  pid_t pid = 0;             // tgid of the owning process; 0 when the owner is dead
  uint64_t proc_id = 0;      // binderd's id of the owning open (never 0, never reused)
  uint64_t node_ptr = 0;     // the node's ptr and cookie as its owner registered them: only when
  uint64_t node_cookie = 0;  // the caller is the owner's process (any of its opens), else 0
  bool dead = false;         // the owning open is gone (closed, or the process died)
};

class Device {
 public:
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  virtual Backend backend() const = 0;
  // The pollable descriptor (readable while the polling thread has Binder work).
  virtual int fd() const = 0;
  // ioctl(fd(), request, arg); errno-style result: 0 or the errno (EINTR is returned, not
  // retried, so callers decide).
  virtual int ioctl(unsigned long request, void* arg) = 0;
  // Maps the receive area read-only. Returns the address or the errno as a Status.
  virtual absl::StatusOr<void*> mapReceiveArea(size_t size) = 0;
  // Marks the calling thread as a poller of fd() before it polls (binderd needs it; the kernel
  // marks a thread when it polls). Idempotent.
  virtual void preparePoll() = 0;
  // Makes every thread blocked in a read of this device return (the kernel's flush on close of
  // a descriptor): used to stop looper threads.
  virtual void wakeAll() = 0;
  // Who owns the node behind `handle` of this open (0 = the context manager). binderd only:
  // Unimplemented on the kernel driver (nothing is called). InvalidArgument for a handle this
  // open does not hold.
  virtual absl::StatusOr<RefOwner> refOwner(uint32_t handle) = 0;

 protected:
  Device() = default;
};

// Opens (O_RDWR | O_CLOEXEC) the device `spec` names. The area is unmapped and the descriptor
// closed when the Device is destroyed. Errors: the open's errno as a Status (NotFound for
// ENOENT: no such device, or binderd not running).
absl::StatusOr<std::unique_ptr<Device>> openDevice(const DeviceSpec& spec);

// errno → absl::Status with `what` and strerror in the message.
absl::Status errnoStatus(int err, std::string_view what);

}  // namespace nb::runtime
