#include "local_driver/io/area.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

namespace nb::driver::io {

std::unique_ptr<Area> Area::create(size_t size, int* err) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size = (size + page - 1) / page * page;
  int fd = ::memfd_create("binder-area", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    *err = errno;
    return nullptr;
  }
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    *err = errno;
    ::close(fd);
    return nullptr;
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    *err = errno;
    ::close(fd);
    return nullptr;
  }
  // After this the client cannot create a writable mapping (nor mprotect one writable), like the
  // kernel clearing VM_MAYWRITE; our own mapping predates the seal and stays writable.
  ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL);
  return std::unique_ptr<Area>(new Area(fd, static_cast<uint8_t*>(base), size));
}

Area::~Area() {
  ::munmap(base_, size_);
  ::close(memfd_);
}

}  // namespace nb::driver::io
