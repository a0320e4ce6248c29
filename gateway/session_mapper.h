// SessionMapper: the ObjectMapper (codec/wire/object_mapper.h) of one conversion on one session,
// for one local connection: local objects of that connection's buffers become export/import
// references of the session, and references from the peer become objects valid in that
// connection (docs/protocol.md §3, §5.1). Lives for one conversion plus the send of its buffer:
// it keeps alive the proxies it made for the send, and remembers the DeathNotices that must
// follow the frame it helped build.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "codec/wire/object_mapper.h"

namespace nb::gateway {

class Conn;
class ImportNode;
class Session;

class SessionMapper final : public wire::ObjectMapper {
 public:
  // `conn` null: resolve only (a parcel the gateway reads itself): imports are created and
  // recorded in imported(), nothing is prepared for a send.
  SessionMapper(Session& session, Conn* conn) : session_(session), conn_(conn) {}

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

 private:
  absl::StatusOr<wire::WireBinderRef> exportHandle(uint32_t handle, bool weak);
  absl::StatusOr<flat_binder_object> importRef(const netbinder::v1::BinderRef& ref);
  absl::StatusOr<flat_binder_object> homeRef(const netbinder::v1::BinderRef& ref);

  Session& session_;
  Conn* const conn_;
  std::vector<uint64_t> pending_deaths_;
  std::vector<std::shared_ptr<ImportNode>> imported_;
  std::vector<std::shared_ptr<void>> keep_;  // proxies/objects that must outlive the send
};

}  // namespace nb::gateway
