// ReceivedParcel: the data of a received transaction or reply, as a read-only view, with the
// ownership of the buffer it lives in.
//
//   * A driver buffer (in the process's receive area) is returned with BC_FREE_BUFFER when the
//     ReceivedParcel is destroyed or release()d, and the fds the driver installed for its FD
//     objects are closed then (as libbinder's freeBuffer does). Readers that want to keep a
//     received fd dup() it (readFileDescriptor in parcel_binder.h returns a borrowed number).
//   * A parcel made by a local (same-process) call owns its bytes.
//
// Move-only. The reader() it hands out borrows the bytes: do not use it after the parcel is gone.
#pragma once

#include <linux/android/binder.h>

#include <cstdint>
#include <memory>
#include <span>

#include "codec/parcel_reader.h"
#include "codec/parcel_writer.h"

namespace nb::runtime {

class ProcessState;

class ReceivedParcel {
 public:
  ReceivedParcel() = default;
  // Takes a driver buffer described by `tr` (BR_TRANSACTION / BR_REPLY) owned by `owner`.
  ReceivedParcel(std::shared_ptr<ProcessState> owner, const binder_transaction_data& tr);
  // Owns `buffers` (a local call's reply).
  explicit ReceivedParcel(codec::ParcelBuffers buffers);
  ~ReceivedParcel();
  ReceivedParcel(ReceivedParcel&& other) noexcept;
  ReceivedParcel& operator=(ReceivedParcel&& other) noexcept;
  ReceivedParcel(const ReceivedParcel&) = delete;
  ReceivedParcel& operator=(const ReceivedParcel&) = delete;

  std::span<const uint8_t> data() const;
  std::span<const binder_size_t> offsets() const;
  size_t dataSize() const { return data().size(); }
  // A fresh cursor at position 0.
  codec::ParcelReader reader() const { return codec::ParcelReader(data(), offsets()); }
  // The ProcessState the parcel came from (null for local parcels); readBinder needs it.
  const std::shared_ptr<ProcessState>& owner() const { return owner_; }
  // Frees the driver buffer now (idempotent).
  void release();

 private:
  std::shared_ptr<ProcessState> owner_;
  // The driver buffer's user address; 0 when there is none to free.
  binder_uintptr_t buffer_ = 0;
  std::span<const uint8_t> driver_data_;
  std::span<const binder_size_t> driver_offsets_;
  codec::ParcelBuffers owned_;
};

}  // namespace nb::runtime
