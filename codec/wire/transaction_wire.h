// Transaction buffers <-> netbinder.v1 WireParcel (docs/protocol.md §9, §5, §8; proto/netbinder/v1/
// parcel.proto).
//
// Sending side: toWireParcel() walks a local buffer once with codec::ObjectWalker (the driver's
// own validation rules), copies the data bytes with every object's bytes zeroed, and asks the
// ObjectMapper for a wire reference per binder object and a payload id per fd. PTR payloads are
// copied by value; the pointer slot a child PTR occupies in its parent, and the u32 slots of an
// FDA, are zeroed in the copy. Nothing local (pointers, cookies, handles, fd numbers, addresses)
// reaches the wire, except the opaque FD cookie the kernel itself passes through.
//
// Receiving side: fromWireParcel() first validates the whole WireParcel without side effects
// (limits, offsets ascending / 4-aligned / in range / non-overlapping, object bytes zero, known
// kind, parent index backwards and a PTR, fixup order and bounds exactly as the driver checks them,
// fd ids non-zero and unique), then asks the mapper for each local object and rebuilds data +
// offsets + the scatter-gather area with parent pointers and fd arrays filled in, so that the
// result walks clean through ObjectWalker and can be submitted with BC_TRANSACTION_SG /
// BC_REPLY_SG. The WireParcel is the single parse: the data bytes are never scanned for objects.
//
// Errors are absl::Status:
//   InvalidArgument    the input breaks a rule (peer input on receive: a fatal INVALID_PARCEL;
//                      a local buffer the walker rejects on send).
//   ResourceExhausted  a ParcelLimits bound is exceeded (on send: the peer's limits; nothing sent).
//   <mapper's code>    a mapper call failed; the message names the object, and
//                      isMapperFailure() is true.
//   Internal           the mapper returned something malformed (a bug in the mapper).
// failedObjectIndex() gives the index of the object at fault when there is one. On any error, every
// mapper effect of the call has been undone (see object_mapper.h).
//
// Accounting on receive: a *valid* parcel that the gateway then cannot deliver (mapper failure,
// dead target, dropped oneway) still carried SENDER_EXPORT counts and fd payloads; the gateway
// must account for them (docs/protocol.md §5.2). An invalid parcel ends the session, so no
// accounting is needed.
#pragma once

#include <linux/android/binder.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codec/wire/object_mapper.h"
#include "proto/netbinder/v1/parcel.pb.h"

namespace nb::wire {

// Bounds on one parcel. A receiver applies its own (the values it advertised in Hello.limits); a
// sender applies the peer's, so that it never sends what the peer must reject. The defaults are
// the protocol defaults (docs/protocol.md §11).
struct ParcelLimits {
  uint64_t max_data_bytes = 1024 * 1024;
  uint64_t max_objects = 4096;
  uint64_t max_fds = 1024;
  // Sum over PTR payloads of their length rounded up to 8.
  uint64_t max_buffer_bytes = 1024 * 1024;
};

// A local transaction buffer as the driver delivered it to the gateway (BR_TRANSACTION / BR_REPLY):
// PTR payloads lie one after another, each 8-aligned, in object order in `buffers` (the layout the
// kernel produces). The objects' `buffer` addresses are not dereferenced: each payload is found at
// the walker's sg_offset. The spans must not change during the conversion.
struct LocalBufferView {
  std::span<const uint8_t> data;
  std::span<const uint8_t> offsets;  // offsets_size bytes (binder_size_t entries)
  std::span<const uint8_t> buffers;  // the scatter-gather area; size a multiple of 8
};

// Converts `local` into `*out` (cleared first). On error `*out` is unspecified.
absl::Status toWireParcel(const LocalBufferView& local, ObjectMapper& mapper,
                          const ParcelLimits& limits, netbinder::v1::WireParcel* out);

// A rebuilt local buffer, ready for BC_TRANSACTION_SG / BC_REPLY_SG (or BC_TRANSACTION when
// buffers() is empty): data.ptr.buffer = data().data(), data.ptr.offsets = offsets().data(),
// buffers_size = buffers().size().
// Move-only: every PTR object's `buffer` field (and every parent's pointer slot) holds the address
// of its payload inside buffers(), which stays valid across moves and until destruction.
class LocalBuffer {
 public:
  LocalBuffer(LocalBuffer&&) noexcept = default;
  LocalBuffer& operator=(LocalBuffer&&) noexcept = default;
  LocalBuffer(const LocalBuffer&) = delete;
  LocalBuffer& operator=(const LocalBuffer&) = delete;
  ~LocalBuffer() = default;

  std::span<const uint8_t> data() const { return data_; }
  std::span<const binder_size_t> offsets() const { return offsets_; }
  // The offsets array as raw bytes (offsets_size = offsetsBytes().size()).
  std::span<const uint8_t> offsetsBytes() const;
  // The scatter-gather area: PTR payloads, each at an 8-aligned offset, in object order.
  std::span<const uint8_t> buffers() const;

 private:
  friend class WireDecoder;
  LocalBuffer() = default;

  std::vector<uint8_t> data_;
  std::vector<binder_size_t> offsets_;
  // uint64_t storage keeps every payload (at 8-aligned offsets) 8-aligned in memory.
  std::vector<uint64_t> buffers_;
};

// Validates `wire` against `limits` and the driver's object rules, then builds the local buffer
// through `mapper`.
absl::StatusOr<LocalBuffer> fromWireParcel(const netbinder::v1::WireParcel& wire,
                                           ObjectMapper& mapper, const ParcelLimits& limits);

// The side-effect-free first half of fromWireParcel(), for callers that want to classify a parcel
// before touching any table.
absl::Status validateWireParcel(const netbinder::v1::WireParcel& wire, const ParcelLimits& limits);

// The index (in the local offsets array / WireParcel.objects) of the object an error is about.
std::optional<size_t> failedObjectIndex(const absl::Status& status);
// True if the error came from an ObjectMapper call (the status code is the mapper's).
bool isMapperFailure(const absl::Status& status);

}  // namespace nb::wire
