#include "runtime/received_parcel.h"

#include <unistd.h>

#include <cstring>

#include "runtime/process_state.h"

namespace nb::runtime {

ReceivedParcel::ReceivedParcel(std::shared_ptr<ProcessState> owner,
                               const binder_transaction_data& tr)
    : owner_(std::move(owner)), buffer_(tr.data.ptr.buffer) {
  // SAFETY: the driver wrote `tr`; buffer and offsets point into our read-only receive area and
  // stay valid until BC_FREE_BUFFER (release()).
  driver_data_ = std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(tr.data.ptr.buffer)), tr.data_size);
  driver_offsets_ = std::span<const binder_size_t>(
      reinterpret_cast<const binder_size_t*>(static_cast<uintptr_t>(tr.data.ptr.offsets)),
      tr.offsets_size / sizeof(binder_size_t));
}

ReceivedParcel::ReceivedParcel(codec::ParcelBuffers buffers) : owned_(std::move(buffers)) {}

ReceivedParcel::~ReceivedParcel() { release(); }

ReceivedParcel::ReceivedParcel(ReceivedParcel&& other) noexcept { *this = std::move(other); }

ReceivedParcel& ReceivedParcel::operator=(ReceivedParcel&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::move(other.owner_);
    buffer_ = other.buffer_;
    driver_data_ = other.driver_data_;
    driver_offsets_ = other.driver_offsets_;
    owned_ = std::move(other.owned_);
    other.buffer_ = 0;
    other.driver_data_ = {};
    other.driver_offsets_ = {};
  }
  return *this;
}

std::span<const uint8_t> ReceivedParcel::data() const {
  return buffer_ != 0 ? driver_data_ : std::span<const uint8_t>(owned_.data);
}

std::span<const binder_size_t> ReceivedParcel::offsets() const {
  return buffer_ != 0 ? driver_offsets_ : std::span<const binder_size_t>(owned_.offsets);
}

void ReceivedParcel::release() {
  if (buffer_ == 0 || owner_ == nullptr) {
    return;
  }
  // Close the fds the driver installed for FD objects (they belong to this parcel).
  for (binder_size_t off : driver_offsets_) {
    if (off > driver_data_.size() || driver_data_.size() - off < sizeof(binder_fd_object)) {
      continue;
    }
    binder_fd_object object;
    std::memcpy(&object, driver_data_.data() + off, sizeof(object));
    if (object.hdr.type == BINDER_TYPE_FD && static_cast<int>(object.fd) >= 0) {
      ::close(static_cast<int>(object.fd));
    }
  }
  owner_->freeBuffer(buffer_);
  buffer_ = 0;
  driver_data_ = {};
  driver_offsets_ = {};
}

}  // namespace nb::runtime
