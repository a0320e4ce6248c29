// ObjectMapper: how the wire converter (transaction_wire.h) turns local binder objects into wire
// references and back. The converter owns the buffer layout (offsets, sizes, parent fixups,
// scatter-gather placement); the mapper owns identity: the per-peer export and import tables,
// reference counts and fd payloads (docs/protocol.md §3, §8). The gateway implements it, one
// instance (or view) per peer session; tests use fakes.
//
// Call protocol, for one conversion:
//   * toWire*/fromWire* are called once per binder object and once per fd, in object order (and
//     fd-array order within an FDA).
//   * If the conversion then fails (a later mapper call, a limit, a malformed object), the
//     converter calls the matching undo* for every successful call of this conversion, in reverse
//     order, and nothing else. After a successful conversion no undo is called: the effects belong
//     to the produced parcel/buffer (see the "accounting" notes in transaction_wire.h).
//   * A failed toWire*/fromWire* must itself leave no effect.
#pragma once

#include <linux/android/binder.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "codec/object_walker.h"
#include "proto/netbinder/v1/parcel.pb.h"

namespace nb::wire {

// A reference as the sending side writes it: which export table, which entry. The converter adds
// `weak` (from the object kind) and `flags` (from the local object) to build the BinderRef.
struct WireBinderRef {
  netbinder::v1::OwnerSide side = netbinder::v1::OWNER_SIDE_UNSPECIFIED;
  uint64_t export_id = 0;
  // SENDER_EXPORT only: BinderRef.owner_key (the exporter's grouping of nodes by owning process).
  uint64_t owner_key = 0;
};

class ObjectMapper {
 public:
  virtual ~ObjectMapper() = default;

  // ---- Sending side: local buffer -> WireParcel ----

  // A BINDER / WEAK_BINDER / HANDLE / WEAK_HANDLE object of the local buffer (object.kind says
  // which; binder/cookie or handle and flags are set). Typical implementation: a node the peer
  // exported (the gateway's own proxy node, or a handle to one) goes home as RECEIVER_EXPORT;
  // anything else is exported (deduplicated per local node) as SENDER_EXPORT, adding one to the
  // peer-held strong or weak count. `side` must be SENDER_EXPORT or RECEIVER_EXPORT and
  // `export_id` non-zero; the converter rejects anything else (and undoes this call).
  virtual absl::StatusOr<WireBinderRef> toWireBinder(const codec::WalkedObject& object) = 0;

  // One fd of the local buffer: `object` is the FD object (fd_index 0) or the FDA object
  // (fd_index = position in its array). Returns the id of the FdPayload the mapper arranged to
  // send before the parcel (non-zero).
  virtual absl::StatusOr<uint64_t> toWireFd(int32_t fd, const codec::WalkedObject& object,
                                            size_t fd_index) = 0;

  virtual void undoToWireBinder(const codec::WalkedObject& object, const WireBinderRef& ref) = 0;
  virtual void undoToWireFd(uint64_t fd_id) = 0;

  // ---- Receiving side: WireParcel -> local buffer ----

  // The local object to write for a validated BinderRef (side, non-zero export_id, weak). The
  // returned hdr.type must be BINDER_TYPE_BINDER or _HANDLE for a strong reference and
  // BINDER_TYPE_WEAK_BINDER or _WEAK_HANDLE for a weak one (checked). The mapper chooses `flags`:
  // ref.flags() is the peer's advisory value and must be sanitised. Typical implementation:
  // SENDER_EXPORT -> create or find the import and its local proxy (counts +1 received);
  // RECEIVER_EXPORT -> the export entry, which must exist with a peer-held count.
  virtual absl::StatusOr<flat_binder_object> fromWireBinder(
      const netbinder::v1::BinderRef& ref) = 0;

  // A local fd for a pending FdPayload id (consuming it). The fd is written into the rebuilt
  // buffer; who closes it after submission is the mapper's business.
  virtual absl::StatusOr<int32_t> fromWireFd(uint64_t fd_id) = 0;

  virtual void undoFromWireBinder(const netbinder::v1::BinderRef& ref,
                                  const flat_binder_object& local) = 0;
  virtual void undoFromWireFd(uint64_t fd_id, int32_t fd) = 0;
};

}  // namespace nb::wire
