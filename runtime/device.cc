#include "runtime/device.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "local_driver/client/binder_client.h"
#include "local_driver/client/netbinder_ioctl.h"

namespace nb::runtime {
namespace {

// Plain syscalls on a kernel character device.
class KernelDevice final : public Device {
 public:
  explicit KernelDevice(int fd) : fd_(fd) {}
  ~KernelDevice() override {
    if (area_ != nullptr) {
      ::munmap(area_, area_size_);
    }
    ::close(fd_);
  }
  Backend backend() const override { return Backend::kKernel; }
  int fd() const override { return fd_; }
  int ioctl(unsigned long request, void* arg) override {
    return ::ioctl(fd_, request, arg) < 0 ? errno : 0;
  }
  absl::StatusOr<void*> mapReceiveArea(size_t size) override {
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_NORESERVE, fd_, 0);
    if (addr == MAP_FAILED) {
      return errnoStatus(errno, "mmap of the binder device");
    }
    area_ = addr;
    area_size_ = size;
    return addr;
  }
  void preparePoll() override {}
  absl::StatusOr<RefOwner> refOwner(uint32_t /*handle*/) override {
    // The kernel's Binder UAPI cannot tell who owns a node (NB_IOC_REF_OWNER would be EINVAL).
    return absl::UnimplementedError("refOwner: the kernel Binder driver has no NB_IOC_REF_OWNER");
  }
  void wakeAll() override {
    // Every close of a descriptor of the file runs binder_flush, which wakes all threads.
    int dup = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    if (dup >= 0) {
      ::close(dup);
    }
  }

 private:
  int fd_;
  void* area_ = nullptr;
  size_t area_size_ = 0;
};

// The binderd client library.
class BinderdDevice final : public Device {
 public:
  explicit BinderdDevice(int fd) : fd_(fd) {}
  ~BinderdDevice() override {
    if (area_ != nullptr) {
      nb_binder_munmap(area_, area_size_);
    }
    nb_binder_close(fd_);
  }
  Backend backend() const override { return Backend::kBinderd; }
  int fd() const override { return fd_; }
  int ioctl(unsigned long request, void* arg) override {
    // The runtime passes only its own structures and buffers (see nb_binder_ioctl_trusted).
    return nb_binder_ioctl_trusted(fd_, request, arg) < 0 ? errno : 0;
  }
  absl::StatusOr<void*> mapReceiveArea(size_t size) override {
    void* addr = nb_binder_mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_NORESERVE, fd_, 0);
    if (addr == MAP_FAILED) {
      return errnoStatus(errno, "mmap of the binderd device");
    }
    area_ = addr;
    area_size_ = size;
    return addr;
  }
  void preparePoll() override { nb_binder_poll_prepare(fd_); }
  absl::StatusOr<RefOwner> refOwner(uint32_t handle) override {
    nb_ref_owner_info info{};
    info.handle = handle;
    const int err = ioctl(NB_IOC_REF_OWNER, &info);
    if (err == ENOTTY) {
      return absl::UnimplementedError("refOwner: binderd does not know NB_IOC_REF_OWNER");
    }
    if (err != 0) {
      return errnoStatus(err, absl::StrCat("NB_IOC_REF_OWNER of handle ", handle));
    }
    return RefOwner{info.owner_pid, info.owner_proc_id, info.node_ptr, info.node_cookie,
                    (info.flags & NB_REF_OWNER_DEAD) != 0};
  }
  void wakeAll() override {
    int dup = nb_binder_dup(fd_);
    if (dup >= 0) {
      nb_binder_close(dup);
    }
  }

 private:
  int fd_;
  void* area_ = nullptr;
  size_t area_size_ = 0;
};

bool isCharDevice(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

}  // namespace

const char* backendName(Backend backend) {
  return backend == Backend::kKernel ? "kernel" : "binderd";
}

std::string DeviceSpec::toString() const { return absl::StrCat(backendName(backend), ":", path); }

DeviceSpec resolveDevice(std::optional<std::string> device_flag,
                         std::optional<std::string> netbinder_dir) {
  if (device_flag.has_value() && !device_flag->empty()) {
    Backend backend = isCharDevice(*device_flag) ? Backend::kKernel : Backend::kBinderd;
    return DeviceSpec{backend, *device_flag};
  }
  if (!netbinder_dir.has_value()) {
    const char* env = std::getenv("NETBINDER_DIR");
    netbinder_dir = env != nullptr ? std::string(env) : std::string();
  }
  if (!netbinder_dir->empty()) {
    return DeviceSpec{Backend::kBinderd, *netbinder_dir + "/binder"};
  }
  return DeviceSpec{Backend::kKernel, "/dev/binder"};
}

absl::StatusOr<std::unique_ptr<Device>> openDevice(const DeviceSpec& spec) {
  if (spec.backend == Backend::kKernel) {
    int fd = ::open(spec.path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      return errnoStatus(errno, absl::StrCat("open ", spec.toString()));
    }
    return std::unique_ptr<Device>(new KernelDevice(fd));
  }
  int fd = nb_binder_open(spec.path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return errnoStatus(errno, absl::StrCat("open ", spec.toString()));
  }
  return std::unique_ptr<Device>(new BinderdDevice(fd));
}

absl::Status errnoStatus(int err, std::string_view what) {
  std::string message = absl::StrCat(std::string(what), ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case EINVAL:
      return absl::InvalidArgumentError(message);
    case EBUSY:
    case EAGAIN:
      return absl::UnavailableError(message);
    case ENOMEM:
    case ENOSPC:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace nb::runtime
