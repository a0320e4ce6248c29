// Binders and fds in parcels: the runtime's side of codec::ParcelWriter / ParcelReader objects.
//
//   writeBinder   a LocalBinder → BINDER object {ptr = cookie = id()} (registered in the
//                 LocalObjectRegistry and held until the send completes); a Proxy → HANDLE
//                 object (the proxy, and so its handle reference, is held until the send
//                 completes, ProcessState::holdForSend); null → the null binder. Followed by the
//                 stability word.
//   readBinder    BINDER → the local object (NotFound if it no longer exists); HANDLE → the
//                 process's Proxy for it, whose references are taken at once — before the
//                 received buffer can be freed (kernel-binder.md §17.2); null → nullptr.
//   fds           the codec writes FD objects; a received fd belongs to its ReceivedParcel
//                 (closed with it): readFileDescriptor returns the borrowed number,
//                 readDupFileDescriptor a dup the caller owns.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codec/parcel_reader.h"
#include "codec/parcel_writer.h"
#include "runtime/binder.h"

namespace nb::runtime {

class ProcessState;

void writeBinder(codec::ParcelWriter& writer, const std::shared_ptr<IBinder>& binder,
                 int32_t stability = codec::kStabilitySystem);

absl::StatusOr<std::shared_ptr<IBinder>> readBinder(codec::ParcelReader& reader,
                                                    ProcessState& state);

absl::StatusOr<int> readFileDescriptor(codec::ParcelReader& reader);
// dup (O_CLOEXEC) of the next fd object; the caller closes it.
absl::StatusOr<int> readDupFileDescriptor(codec::ParcelReader& reader);

}  // namespace nb::runtime
