#include "runtime/parcel_binder.h"

#include <fcntl.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/device.h"
#include "runtime/object_registry.h"
#include "runtime/process_state.h"
#include "runtime/proxy.h"

namespace nb::runtime {

void writeBinder(codec::ParcelWriter& writer, const std::shared_ptr<IBinder>& binder,
                 int32_t stability) {
  if (binder == nullptr) {
    writer.writeNullBinder(stability);
    return;
  }
  if (LocalBinder* local = binder->asLocal()) {
    std::shared_ptr<LocalBinder> object = local->shared_from_this();
    LocalObjectRegistry::instance().noteFlattened(object);
    writer.writeStrongBinder(codec::LocalBinder{local->id(), local->id(), local->flatFlags()},
                             stability);
    return;
  }
  Proxy* proxy = binder->asProxy();
  if (proxy->handle() != 0) {  // handle 0 is written without an offsets entry: never sent
    proxy->state()->holdForSend(std::shared_ptr<Proxy>(binder, proxy));
  }
  writer.writeStrongHandle(proxy->handle(), stability);
}

absl::StatusOr<std::shared_ptr<IBinder>> readBinder(codec::ParcelReader& reader,
                                                    ProcessState& state) {
  absl::StatusOr<codec::ParcelBinder> read = reader.readStrongBinder();
  if (!read.ok()) {
    return read.status();
  }
  const codec::ParcelObject& object = read->object;
  if (object.isNull()) {
    return std::shared_ptr<IBinder>();
  }
  if (object.kind == codec::ParcelObjectKind::kHandle) {
    if (object.handle == 0) {
      return state.contextObject();
    }
    return std::shared_ptr<IBinder>(state.proxyForHandle(object.handle));
  }
  std::shared_ptr<LocalBinder> local = LocalObjectRegistry::instance().lookup(object.cookie);
  if (local == nullptr) {
    return absl::NotFoundError(absl::StrCat("local binder ", object.cookie, " no longer exists"));
  }
  return std::shared_ptr<IBinder>(std::move(local));
}

absl::StatusOr<int> readFileDescriptor(codec::ParcelReader& reader) {
  absl::StatusOr<codec::ParcelObject> object = reader.readFileDescriptor();
  if (!object.ok()) {
    return object.status();
  }
  return object->fd;
}

absl::StatusOr<int> readDupFileDescriptor(codec::ParcelReader& reader) {
  absl::StatusOr<int> fd = readFileDescriptor(reader);
  if (!fd.ok()) {
    return fd.status();
  }
  int dup = ::fcntl(*fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) {
    return errnoStatus(errno, "dup of a received fd");
  }
  return dup;
}

}  // namespace nb::runtime
