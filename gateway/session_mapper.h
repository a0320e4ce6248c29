// SessionMapper: the ObjectMapper (codec/wire/object_mapper.h) of one conversion on one session,
// for one local connection: local objects of that connection's buffers become export/import
// references of the session, and references from the peer become objects valid in that
// connection (docs/protocol.md §3, §5.1). Lives for one conversion plus the send of its buffer:
// it keeps alive the proxies it made for the send, and remembers the DeathNotices that must
// follow the frame it helped build.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "codec/wire/object_mapper.h"
#include "gateway/fd/fd_objects.h"
#include "gateway/fd/fd_stream.h"
#include "proto/netbinder/v1/frame.pb.h"

namespace nb::gateway {

class Conn;
class ImportNode;
class Session;

// What a sending conversion prepared for the fds of its parcel: the FdPayload frames that must
// precede the parcel's frame, and the streams to start once they are queued.
struct OutgoingFds {
  struct Stream {
    UniqueFd fd;  // our dup of the local process's fd
    FdStreamOptions options;
  };
  std::vector<netbinder::v1::Frame> payloads;
  std::vector<Stream> streams;
  bool empty() const { return payloads.empty(); }
};

// The fds the peer sent ahead of one received parcel, by fd id (docs/protocol.md §8.1): taken by
// the parcel's conversion; whatever is left is closed with the bundle.
struct FdBundle {
  std::map<uint64_t, absl::StatusOr<UniqueFd>> fds;
};

class SessionMapper final : public wire::ObjectMapper {
 public:
  // `conn` null: resolve only (a parcel the gateway reads itself): imports are created and
  // recorded in imported(), nothing is prepared for a send.
  SessionMapper(Session& session, Conn* conn, std::shared_ptr<FdBundle> received_fds = nullptr)
      : session_(session), conn_(conn), received_fds_(std::move(received_fds)) {}

  absl::StatusOr<wire::WireBinderRef> toWireBinder(const codec::WalkedObject& object) override;
  absl::StatusOr<uint64_t> toWireFd(int32_t fd, const codec::WalkedObject& object,
                                    size_t fd_index) override;
  void undoToWireBinder(const codec::WalkedObject& object, const wire::WireBinderRef& ref) override;
  void undoToWireFd(uint64_t fd_id) override;
  absl::StatusOr<flat_binder_object> fromWireBinder(const netbinder::v1::BinderRef& ref) override;
  absl::StatusOr<int32_t> fromWireFd(uint64_t fd_id) override;
  void undoFromWireBinder(const netbinder::v1::BinderRef& ref,
                          const flat_binder_object& local) override;
  void undoFromWireFd(uint64_t fd_id, int32_t fd) override;

  // Export ids whose DeathNotice must follow the frame (sent by Session after the frame).
  const std::vector<uint64_t>& pendingDeaths() const { return pending_deaths_; }
  const std::vector<std::shared_ptr<ImportNode>>& imported() const { return imported_; }
  // The fd payloads/streams a sending conversion prepared (moved out).
  OutgoingFds takeOutgoingFds() { return std::move(outgoing_fds_); }

 private:
  absl::StatusOr<wire::WireBinderRef> exportHandle(uint32_t handle, bool weak);
  absl::StatusOr<flat_binder_object> importRef(const netbinder::v1::BinderRef& ref);
  absl::StatusOr<flat_binder_object> homeRef(const netbinder::v1::BinderRef& ref);

  Session& session_;
  Conn* const conn_;
  std::vector<uint64_t> pending_deaths_;
  std::vector<std::shared_ptr<ImportNode>> imported_;
  std::vector<std::shared_ptr<void>> keep_;  // proxies/objects that must outlive the send
  std::shared_ptr<FdBundle> received_fds_;
  std::vector<UniqueFd> keep_fds_;  // received fds handed to the driver: closed after the send
  OutgoingFds outgoing_fds_;
};

}  // namespace nb::gateway
