#include "gateway/session_mapper.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gateway/import_node.h"
#include "gateway/session.h"
#include "runtime/object_registry.h"

namespace nb::gateway {

namespace v1 = netbinder::v1;

absl::StatusOr<wire::WireBinderRef> SessionMapper::toWireBinder(const codec::WalkedObject& object) {
  if (conn_ == nullptr) {
    return absl::InternalError("no connection to read local objects from");
  }
  const bool weak = object.kind == codec::ObjectKind::kWeakBinder ||
                    object.kind == codec::ObjectKind::kWeakHandle;
  if (object.kind == codec::ObjectKind::kBinder || object.kind == codec::ObjectKind::kWeakBinder) {
    // A node of this connection: only the gateway's proxy nodes live here, so it is an import
    // of this session going home.
    if (std::optional<uint64_t> id = session_.importIdOfNode(object.cookie)) {
      return wire::WireBinderRef{v1::OWNER_SIDE_RECEIVER_EXPORT, *id, 0};
    }
    return absl::FailedPreconditionError("a gateway-internal object cannot cross to a peer");
  }
  if (std::optional<uint64_t> id = session_.homeImportOf(*conn_, object.handle)) {
    return wire::WireBinderRef{v1::OWNER_SIDE_RECEIVER_EXPORT, *id, 0};
  }
  return session_.exportHandle(*conn_, object.handle, weak, &pending_deaths_);
}

absl::StatusOr<uint64_t> SessionMapper::toWireFd(int32_t fd, const codec::WalkedObject& /*object*/,
                                                 size_t /*fd_index*/) {
  return session_.prepareFd(fd, &outgoing_fds_);
}

void SessionMapper::undoToWireBinder(const codec::WalkedObject& object,
                                     const wire::WireBinderRef& ref) {
  if (ref.side != v1::OWNER_SIDE_SENDER_EXPORT) {
    return;
  }
  const bool weak = object.kind == codec::ObjectKind::kWeakBinder ||
                    object.kind == codec::ObjectKind::kWeakHandle;
  session_.unsendExport(ref.export_id, weak);
}

void SessionMapper::undoToWireFd(uint64_t fd_id) {
  auto& payloads = outgoing_fds_.payloads;
  for (auto it = payloads.begin(); it != payloads.end(); ++it) {
    if (it->fd_payload().fd_id() != fd_id)
      continue;
    if (it->fd_payload().has_stream()) {
      const uint64_t stream_id = it->fd_payload().stream().stream_id();
      std::erase_if(outgoing_fds_.streams, [stream_id](const OutgoingFds::Stream& stream) {
        return stream.options.stream_id == stream_id;
      });
    }
    payloads.erase(it);
    return;
  }
}

absl::StatusOr<flat_binder_object> SessionMapper::fromWireBinder(const v1::BinderRef& ref) {
  return ref.side() == v1::OWNER_SIDE_SENDER_EXPORT ? importRef(ref) : homeRef(ref);
}

absl::StatusOr<flat_binder_object> SessionMapper::importRef(const v1::BinderRef& ref) {
  absl::StatusOr<std::shared_ptr<ImportNode>> node = session_.importFor(ref);
  if (!node.ok()) {
    return node.status();
  }
  keep_.push_back(*node);
  flat_binder_object flat{};
  flat.flags = (*node)->flatFlags();
  if (conn_ == nullptr) {
    imported_.push_back(*node);
    flat.hdr.type = ref.weak() ? BINDER_TYPE_WEAK_BINDER : BINDER_TYPE_BINDER;
    flat.binder = flat.cookie = (*node)->id();
    return flat;
  }
  std::shared_ptr<Conn> owner = (*node)->conn();
  if (owner == nullptr) {
    return absl::UnavailableError("the import's connection is closed");
  }
  if (owner.get() == conn_) {
    runtime::LocalObjectRegistry::instance().noteFlattened(*node);
    flat.hdr.type = ref.weak() ? BINDER_TYPE_WEAK_BINDER : BINDER_TYPE_BINDER;
    flat.binder = flat.cookie = (*node)->id();
    return flat;
  }
  // Owned by another connection: hand it over as a handle of this one.
  LocalConns& conns = *session_.ctx_.conns;
  absl::StatusOr<std::shared_ptr<runtime::Proxy>> main_proxy = conns.putLocal(*owner, *node);
  if (!main_proxy.ok()) {
    return main_proxy.status();
  }
  absl::StatusOr<std::shared_ptr<runtime::Proxy>> here = conns.inConn(*conn_, *main_proxy, false);
  if (!here.ok()) {
    return here.status();
  }
  keep_.push_back(*main_proxy);
  keep_.push_back(*here);
  conn_->state()->holdForSend(*here);
  flat.hdr.type = ref.weak() ? BINDER_TYPE_WEAK_HANDLE : BINDER_TYPE_HANDLE;
  flat.handle = (*here)->handle();
  return flat;
}

absl::StatusOr<flat_binder_object> SessionMapper::homeRef(const v1::BinderRef& ref) {
  absl::StatusOr<std::shared_ptr<runtime::Proxy>> main_proxy =
      session_.exportedProxy(ref.export_id());
  if (!main_proxy.ok()) {
    return main_proxy.status();
  }
  flat_binder_object flat{};
  flat.hdr.type = ref.weak() ? BINDER_TYPE_WEAK_HANDLE : BINDER_TYPE_HANDLE;
  flat.flags = ref.flags() & (FLAT_BINDER_FLAG_ACCEPTS_FDS | FLAT_BINDER_FLAG_PRIORITY_MASK);
  if (conn_ == nullptr) {
    flat.handle = (*main_proxy)->handle();
    keep_.push_back(*main_proxy);
    return flat;
  }
  absl::StatusOr<std::shared_ptr<runtime::Proxy>> here =
      session_.ctx_.conns->inConn(*conn_, *main_proxy, session_.ownsConn(*conn_));
  if (!here.ok()) {
    return here.status();
  }
  keep_.push_back(*here);
  conn_->state()->holdForSend(*here);
  flat.handle = (*here)->handle();
  return flat;
}

absl::StatusOr<int32_t> SessionMapper::fromWireFd(uint64_t fd_id) {
  if (received_fds_ == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no fd payload ", fd_id, " came with the parcel"));
  }
  auto it = received_fds_->fds.find(fd_id);
  if (it == received_fds_->fds.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no fd payload ", fd_id, " came with the parcel"));
  }
  if (!it->second.ok()) {
    return it->second.status();
  }
  UniqueFd fd = std::move(*it->second);
  received_fds_->fds.erase(it);
  const int number = fd.get();
  keep_fds_.push_back(std::move(fd));  // the driver dups it into the target; ours closes after
  return number;
}

void SessionMapper::undoFromWireBinder(const v1::BinderRef& /*ref*/,
                                       const flat_binder_object& local) {
  if (conn_ == nullptr) {
    return;
  }
  // End the send holds taken for the object; its counts stay with the import (§5.2).
  if (local.hdr.type == BINDER_TYPE_BINDER || local.hdr.type == BINDER_TYPE_WEAK_BINDER) {
    const uint64_t id = local.cookie;
    runtime::LocalObjectRegistry::instance().sendFinished(std::span<const uint64_t>(&id, 1));
  } else {
    const uint32_t handle = local.handle;
    conn_->state()->sendFinished(std::span<const uint32_t>(&handle, 1));
  }
}

void SessionMapper::undoFromWireFd(uint64_t /*fd_id*/, int32_t /*fd*/) {}

// ---- Session helpers used by the mapper ---------------------------------------------------------

std::optional<uint64_t> Session::importIdOfNode(uint64_t cookie) {
  std::shared_ptr<runtime::LocalBinder> object =
      runtime::LocalObjectRegistry::instance().lookup(cookie);
  auto* node = dynamic_cast<ImportNode*>(object.get());
  if (node == nullptr || node->session().lock().get() != this) {
    return std::nullopt;
  }
  std::lock_guard lock(mu_);
  const ImportTable::Entry* entry = imports_.find(node->importId());
  if (entry == nullptr || entry->generation != node->generation()) {
    return std::nullopt;
  }
  return node->importId();
}

std::optional<uint64_t> Session::homeImportOf(Conn& conn, uint32_t handle) {
  absl::StatusOr<runtime::RefOwner> owner = conn.state()->refOwner(handle);
  if (!owner.ok() || owner->pid != ::getpid() || owner->node_cookie == 0) {
    return std::nullopt;
  }
  return importIdOfNode(owner->node_cookie);
}

uint64_t Session::ownerKeyOf(Conn& conn, uint32_t handle, uint32_t main_handle,
                             uint64_t* self_cookie) {
  absl::StatusOr<runtime::RefOwner> owner = conn.state()->refOwner(handle);
  if (!owner.ok() || owner->pid <= 0) {
    return kUnknownOwnerBitValue | main_handle;
  }
  if (owner->pid == ::getpid()) {
    *self_cookie = owner->node_cookie;
    return kGatewayConnKeyBitValue | owner->proc_id;
  }
  return static_cast<uint64_t>(owner->pid);
}

absl::StatusOr<wire::WireBinderRef> Session::exportHandle(Conn& conn, uint32_t handle, bool weak,
                                                          std::vector<uint64_t>* deaths) {
  std::shared_ptr<runtime::Proxy> main_proxy;
  const uint32_t known = conn.isMain() ? handle : conn.mainHandleOf(handle);
  if (known != 0 || conn.isMain()) {
    main_proxy = ctx_.conns->main().state()->proxyForHandle(conn.isMain() ? handle : known);
  } else {
    absl::StatusOr<std::shared_ptr<runtime::Proxy>> canonical = ctx_.conns->canonical(conn, handle);
    if (!canonical.ok()) {
      return canonical.status();
    }
    main_proxy = *canonical;
  }
  const uint32_t main_handle = main_proxy->handle();
  uint64_t self_cookie = 0;
  const uint64_t owner_key = ownerKeyOf(conn, handle, main_handle, &self_cookie);
  ExportTable::Sent sent;
  std::shared_ptr<ExportPin> pin;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return absl::UnavailableError("session closed");
    }
    absl::StatusOr<ExportTable::Sent> s = exports_.send(main_handle, weak);
    if (!s.ok()) {
      return s.status();
    }
    sent = *s;
    if (sent.created) {
      pin = std::make_shared<ExportPin>();
      pin->main_proxy = main_proxy;
      pin->owner_key = owner_key;
      pin->self_node_cookie = self_cookie;
      pins_[main_handle] = pin;
    } else {
      auto it = pins_.find(main_handle);
      if (it == pins_.end()) {
        (void)exports_.unsend(sent.id, weak);
        return absl::InternalError("export without a pin");
      }
      pin = it->second;
    }
    if (!conn.isMain()) {
      conn.cache(main_handle, conn.state()->proxyForHandle(handle));
    }
  }
  if (sent.dead) {
    // Reused dead entry: the importer may have released it meanwhile and will create a fresh
    // import from this reference, so it hears of the death again (a duplicate is ignored).
    deaths->push_back(sent.id);
  }
  if (sent.created) {
    auto watch = std::make_shared<ExportDeathWatch>(weak_from_this(), main_handle);
    if (main_proxy->linkToDeath(watch).ok()) {
      std::lock_guard lock(mu_);
      pin->watch = watch;
    } else if (main_proxy->isDead()) {
      std::lock_guard lock(mu_);
      if (std::optional<uint64_t> id = exports_.markDead(main_handle)) {
        deaths->push_back(*id);
      }
    }
  }
  return wire::WireBinderRef{v1::OWNER_SIDE_SENDER_EXPORT, sent.id, pin->owner_key};
}

void Session::unsendExport(uint64_t export_id, bool weak) {
  std::vector<std::shared_ptr<ExportPin>> drop;
  std::lock_guard lock(mu_);
  if (std::optional<uint64_t> key = exports_.unsend(export_id, weak)) {
    unpinLocked(*key, &drop);
  }
}

absl::StatusOr<std::shared_ptr<ImportNode>> Session::importFor(const v1::BinderRef& ref) {
  const uint64_t id = ref.export_id();
  uint64_t key = 0;
  uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return absl::UnavailableError("session closed");
    }
    const ImportTable::Entry* entry = imports_.find(id);
    auto node_it = import_nodes_.find(id);
    std::shared_ptr<ImportNode> node =
        node_it != import_nodes_.end() ? node_it->second.lock() : nullptr;
    if (entry != nullptr && node != nullptr && node->generation() == entry->generation) {
      imports_.receive(id, ref.weak(), entry->owner_key);
      return node;
    }
    if (entry != nullptr) {
      // The old proxy is gone (its release is on the way): give its counts back first, then
      // start a fresh import (docs/protocol.md §5.1, worked race).
      std::optional<ImportTable::Released> old = imports_.release(id, entry->generation);
      netbinder::v1::Frame frame;
      frame.mutable_export_release()->set_export_id(id);
      frame.mutable_export_release()->set_strong_count(old->strong);
      frame.mutable_export_release()->set_weak_count(old->weak);
      sendLocked(std::move(frame));
    }
    if (imports_.size() >= ctx_.max_imports) {
      return absl::ResourceExhaustedError("import limit reached");
    }
    key = ref.owner_key() != 0 ? ref.owner_key() : (kOwnKeyBitValue | next_unique_key_++);
    ImportTable::Received received = imports_.receive(id, ref.weak(), key);
    generation = received.generation;
  }
  absl::StatusOr<std::shared_ptr<Conn>> conn = connForKey(key);
  if (!conn.ok()) {
    return conn.status();
  }
  // The proxy accepts fds whatever the peer says (a handle does not tell us the original node's
  // flags): fds then reach the gateway, which refuses or carries them with a clear error, and the
  // far driver applies the real node's rule. Priority bits are the peer's, sanitised.
  const uint32_t flags =
      FLAT_BINDER_FLAG_ACCEPTS_FDS | (ref.flags() & FLAT_BINDER_FLAG_PRIORITY_MASK);
  auto node = std::make_shared<ImportNode>(weak_from_this(), *conn, id, generation, flags);
  std::lock_guard lock(mu_);
  std::weak_ptr<ImportNode>& slot = import_nodes_[id];
  if (std::shared_ptr<ImportNode> raced = slot.lock();
      raced != nullptr && raced->generation() == generation) {
    return raced;
  }
  slot = node;
  return node;
}

absl::StatusOr<std::shared_ptr<runtime::Proxy>> Session::exportedProxy(uint64_t export_id) {
  std::lock_guard lock(mu_);
  absl::StatusOr<uint64_t> key = exports_.home(export_id);
  if (!key.ok()) {
    return key.status();
  }
  auto it = pins_.find(*key);
  if (it == pins_.end()) {
    return absl::InternalError("export without a pin");
  }
  return it->second->main_proxy;
}

// ---- ImportNode
// ------------------------------------------------------------------------------------

ImportNode::~ImportNode() {
  if (std::shared_ptr<Session> session = session_.lock()) {
    session->importGone(import_id_, generation_);
  }
}

void ImportNode::onRawTransaction(const runtime::RawTransaction& call,
                                  runtime::RawResponder* responder) {
  std::shared_ptr<Session> session = session_.lock();
  if (session == nullptr) {
    if (responder != nullptr)
      (void)responder->replyDead();
    return;
  }
  session->forwardCall(*this, call, responder);
}

}  // namespace nb::gateway
