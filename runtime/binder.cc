#include "runtime/binder.h"

#include <atomic>

#include "codec/parcel_headers.h"
#include "runtime/raw_call.h"

namespace nb::runtime {
namespace {

uint64_t nextLocalBinderId() {
  // Starts at 1: ptr 0 / cookie 0 is the context manager's node as the driver reports it.
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

}  // namespace

absl::Status IBinder::ping() { return transact(kPingTransaction, codec::ParcelWriter()).status(); }

absl::StatusOr<std::u16string> IBinder::interfaceDescriptor() {
  absl::StatusOr<ReceivedParcel> reply = transact(kInterfaceTransaction, codec::ParcelWriter());
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader reader = reply->reader();
  return reader.readString16();
}

LocalBinder::LocalBinder(std::u16string descriptor)
    : id_(nextLocalBinderId()), descriptor_(std::move(descriptor)) {}

LocalBinder::~LocalBinder() = default;

absl::StatusOr<ReceivedParcel> LocalBinder::transact(uint32_t code, const codec::ParcelWriter& data,
                                                     uint32_t flags) {
  codec::ParcelReader reader(data.data(), data.offsets());
  codec::ParcelWriter reply;
  const bool oneway = (flags & kFlagOneway) != 0;
  absl::Status status = dispatch(code, reader, oneway ? nullptr : &reply, flags);
  if (!status.ok()) {
    return status;
  }
  return ReceivedParcel(std::move(reply).release());
}

absl::Status LocalBinder::dispatch(uint32_t code, codec::ParcelReader& data,
                                   codec::ParcelWriter* reply, uint32_t flags) {
  if (code == kPingTransaction) {
    return absl::OkStatus();
  }
  if (code == kInterfaceTransaction) {
    return reply != nullptr ? reply->writeString16(std::u16string_view(descriptor_))
                            : absl::OkStatus();
  }
  return onTransact(code, data, reply, flags);
}

void LocalBinder::onRawTransaction(const RawTransaction& /*call*/, RawResponder* /*responder*/) {}

absl::Status LocalBinder::onTransact(uint32_t code, codec::ParcelReader& /*data*/,
                                     codec::ParcelWriter* /*reply*/, uint32_t /*flags*/) {
  return absl::UnimplementedError("UNKNOWN_TRANSACTION: code " + std::to_string(code));
}

}  // namespace nb::runtime
