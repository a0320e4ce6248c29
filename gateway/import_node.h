// ImportNode: the local proxy node of one import (a remote object), owned by the connection of
// the remote process that owns the object (local_conns.h). Local processes hold handles to it;
// their calls arrive here raw and are forwarded to the peer unparsed (session.h). When the driver
// drops its last reference the object goes away and the import is released to the peer.
#pragma once

#include <cstdint>
#include <memory>

#include "gateway/local_conns.h"
#include "runtime/binder.h"
#include "runtime/raw_call.h"

namespace nb::gateway {

class Session;

class ImportNode final : public runtime::LocalBinder {
 public:
  ImportNode(std::weak_ptr<Session> session, std::weak_ptr<Conn> conn, uint64_t import_id,
             uint64_t generation, uint32_t flags)
      : session_(std::move(session)),
        conn_(std::move(conn)),
        import_id_(import_id),
        generation_(generation),
        flags_(flags) {}
  ~ImportNode() override;

  bool takesRawTransactions() const override { return true; }
  void onRawTransaction(const runtime::RawTransaction& call,
                        runtime::RawResponder* responder) override;
  uint32_t flatFlags() const override { return flags_; }

  // Null once the connection is closed (the node is dead in the driver).
  std::shared_ptr<Conn> conn() const { return conn_.lock(); }
  uint64_t importId() const { return import_id_; }
  uint64_t generation() const { return generation_; }
  const std::weak_ptr<Session>& session() const { return session_; }

 private:
  const std::weak_ptr<Session> session_;
  // Weak: the session owns connections; closing one must close its device even while local
  // processes still hold handles to its nodes (that is what makes them dead).
  const std::weak_ptr<Conn> conn_;
  const uint64_t import_id_;
  const uint64_t generation_;
  const uint32_t flags_;
};

}  // namespace nb::gateway
