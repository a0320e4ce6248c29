// Transaction buffers: allocation in the target's area, copying the sender's payload, validating
// it with the codec's ObjectWalker, translating objects (kernel-binder.md §7), and releasing them
// when the buffer is freed or the transaction fails (§9.4, §7.4 item 5).
//
// Order of work for one transaction (the walker's contract, CVE-2023-21255):
//   1. copy data and offsets from the sender once (data into the area, offsets into a private copy
//      as well, so nothing is ever re-read from client-visible memory);
//   2. walk and validate all objects, collecting them; nothing is translated yet, so a validation
//      failure releases nothing;
//   3. copy every PTR payload into the scatter-gather area;
//   4. translate objects in order, recording each in the buffer's private object list; a failure at
//      object k releases exactly the recorded objects 0..k-1.
#include <cstring>

#include "local_driver/core/context.h"

namespace nb::driver {
namespace {

constexpr uint64_t align8(uint64_t v) { return (v + 7) & ~uint64_t{7}; }

template <typename T>
void storeAt(std::span<uint8_t> area, uint64_t offset, const T& value) {
  // SAFETY: callers pass offsets the walker validated to lie inside the buffer (object offsets
  // within data_size, fixups within their parent's payload), and buffers lie inside the area.
  std::memcpy(area.data() + offset, &value, sizeof(T));
}

template <typename T>
T loadAt(std::span<const uint8_t> area, uint64_t offset) {
  T value;
  std::memcpy(&value, area.data() + offset, sizeof(T));
  return value;
}

}  // namespace

Buffer* Context::newBuffer(Process* proc) {
  if (proc->free_buffers.empty()) {
    proc->buffer_pool.push_back(std::make_unique<Buffer>());
    return proc->buffer_pool.back().get();
  }
  Buffer* buf = proc->free_buffers.back();
  proc->free_buffers.pop_back();
  return buf;
}

BinderError Context::allocBuffer(Process* target, const binder_transaction_data& tr,
                                 uint64_t extra_size, bool is_async, int32_t pid, Buffer** out) {
  if (!target->mapped) {
    return BinderError::dead(ESRCH);  // no mmap, or unmapped (§10.3)
  }
  BufferAllocator::Allocation a;
  const int ret =
      target->alloc.allocate(tr.data_size, tr.offsets_size, extra_size, is_async, pid, &a);
  if (ret != 0) {
    return BinderError::failed(ret);  // EINVAL (size overflow) or ENOSPC (full / async budget)
  }
  Buffer* buf = newBuffer(target);
  buf->reset();
  buf->debug_id = nextDebugId();
  buf->offset = a.offset;
  buf->size = a.size;
  buf->data_size = tr.data_size;
  buf->offsets_size = tr.offsets_size;
  buf->extra_size = extra_size;
  buf->pid = pid;
  buf->async = is_async;
  buf->allow_user_free = false;
  buf->clear_on_free = false;
  buf->oneway_spam_suspect = a.oneway_spam_suspect;
  target->buffers[a.offset] = buf;
  *out = buf;
  return BinderError::none();
}

BinderError Context::copyAndTranslate(Process* proc, Thread* thread, Process* target,
                                      Transaction* t, const binder_transaction_data& tr,
                                      uint64_t buffers_size, bool allow_fds) {
  Buffer* buf = t->buffer;
  std::span<uint8_t> area = target->area.subspan(buf->offset, buf->size);
  std::span<uint8_t> data = area.first(tr.data_size);
  if (!data.empty() && !proc->memory->read(tr.data.ptr.buffer, data)) {
    return BinderError::failed(EFAULT);
  }
  std::vector<uint8_t>& offsets = proc->scratch_offsets;
  offsets.resize(tr.offsets_size);
  if (!offsets.empty()) {
    if (!proc->memory->read(tr.data.ptr.offsets, offsets)) {
      return BinderError::failed(EFAULT);
    }
    std::memcpy(area.data() + align8(tr.data_size), offsets.data(), offsets.size());
  }
  walked_.clear();
  codec::ObjectWalker walker(data, offsets, buffers_size);
  while (const codec::WalkedObject* obj = walker.next()) {
    walked_.push_back(*obj);
  }
  if (walker.failed()) {
    return BinderError::failed(codec::walkErrorErrno(*walker.error()));
  }
  // PTR payloads first, so that parent fixups written during translation land on top of them.
  const uint64_t sg_start = align8(tr.data_size) + align8(tr.offsets_size);
  for (const codec::WalkedObject& obj : walked_) {
    if (obj.kind != codec::ObjectKind::kPtr || obj.length == 0) {
      continue;
    }
    if (obj.sg_offset > buffers_size || obj.length > buffers_size - obj.sg_offset) {
      return BinderError::failed(EINVAL);  // defensive: the walker already bounds this
    }
    if (!proc->memory->read(obj.buffer, area.subspan(sg_start + obj.sg_offset, obj.length))) {
      return BinderError::failed(EFAULT);
    }
  }
  for (const codec::WalkedObject& obj : walked_) {
    BinderError err = translateObject(proc, thread, target, buf, obj, allow_fds);
    if (!err.ok()) {
      return err;  // the caller releases the objects recorded so far (0..k-1)
    }
  }
  return BinderError::none();
}

BinderError Context::translateObject(Process* proc, Thread* thread, Process* target, Buffer* buf,
                                     const codec::WalkedObject& obj, bool allow_fds) {
  switch (obj.kind) {
    case codec::ObjectKind::kBinder:
    case codec::ObjectKind::kWeakBinder:
      return translateBinder(proc, thread, target, buf, obj);
    case codec::ObjectKind::kHandle:
    case codec::ObjectKind::kWeakHandle:
      return translateHandle(proc, target, buf, obj);
    case codec::ObjectKind::kFd: {
      if (!allow_fds) {
        return BinderError::failed(EPERM);
      }
      binder_fd_object fdo = loadAt<binder_fd_object>(target->area, buf->offset + obj.offset);
      fdo.pad_binder = 0;  // the fd number is written at read time
      storeAt(target->area, buf->offset + obj.offset, fdo);
      buf->objects.push_back({});
      return translateFd(proc, buf, obj, buf->offset + obj.offset + offsetof(binder_fd_object, fd),
                         /*in_fda=*/false);
    }
    case codec::ObjectKind::kFdArray:
      if (obj.num_fds != 0 && !allow_fds) {
        return BinderError::failed(EPERM);
      }
      return translateFda(proc, target, buf, obj);
    case codec::ObjectKind::kPtr:
      return translatePtr(target, buf, obj);
  }
  return BinderError::failed(EINVAL);
}

// BINDER / WEAK_BINDER: the sender's own object becomes a handle in the receiver. A first
// transfer creates the node with this object's flags; BR_INCREFS/BR_ACQUIRE for it are queued
// (deferred) on the sending thread (§6.4, §17.1).
BinderError Context::translateBinder(Process* proc, Thread* thread, Process* target, Buffer* buf,
                                     const codec::WalkedObject& obj) {
  Node* node = getNode(proc, obj.binder);
  if (node == nullptr) {
    node = newNode(proc, obj.binder, obj.cookie, obj.flags);
  }
  if (obj.cookie != node->cookie) {
    return BinderError::failed(EINVAL);
  }
  incNodeTmpRef(node);
  const bool strong = obj.kind == codec::ObjectKind::kBinder;
  uint32_t desc = 0;
  const int ret = incRefForNode(target, node, strong, thread, &desc);
  decNodeTmpRef(node);  // may free a just-created node if the ref could not be made
  if (ret != 0) {
    return BinderError::failed(ret);
  }
  flat_binder_object fbo{};
  fbo.hdr.type = strong ? BINDER_TYPE_HANDLE : BINDER_TYPE_WEAK_HANDLE;
  fbo.flags = obj.flags;
  fbo.binder = 0;
  fbo.handle = desc;
  fbo.cookie = 0;
  storeAt(target->area, buf->offset + obj.offset, fbo);
  TranslatedObject rec;
  rec.kind = TranslatedObject::Kind::kRef;
  rec.strong = strong;
  rec.desc = desc;
  buf->objects.push_back(rec);
  return BinderError::none();
}

// HANDLE / WEAK_HANDLE: back to the owner as BINDER (owner's local ref until free), otherwise a
// handle in the receiver. HANDLE needs a strong ref in the sender.
BinderError Context::translateHandle(Process* proc, Process* target, Buffer* buf,
                                     const codec::WalkedObject& obj) {
  const bool strong = obj.kind == codec::ObjectKind::kHandle;
  const NodeRef* ref = getRef(proc, obj.handle, strong);
  if (ref == nullptr) {
    return BinderError::failed(EINVAL);
  }
  Node* node = ref->node;
  flat_binder_object fbo{};
  fbo.flags = obj.flags;
  TranslatedObject rec;
  rec.strong = strong;
  if (node->owner == target) {
    fbo.hdr.type = strong ? BINDER_TYPE_BINDER : BINDER_TYPE_WEAK_BINDER;
    fbo.binder = node->ptr;
    fbo.cookie = node->cookie;
    (void)incNode(node, strong, /*internal=*/false, nullptr);
    rec.kind = TranslatedObject::Kind::kNodeLocal;
    rec.ptr = node->ptr;
  } else {
    uint32_t desc = 0;
    const int ret = incRefForNode(target, node, strong, nullptr, &desc);
    if (ret != 0) {
      return BinderError::failed(ret);
    }
    fbo.hdr.type = strong ? BINDER_TYPE_HANDLE : BINDER_TYPE_WEAK_HANDLE;
    fbo.binder = 0;
    fbo.handle = desc;
    fbo.cookie = 0;
    rec.kind = TranslatedObject::Kind::kRef;
    rec.desc = desc;
  }
  storeAt(target->area, buf->offset + obj.offset, fbo);
  buf->objects.push_back(rec);
  return BinderError::none();
}

// Takes the sender's file now; it is installed in the receiver at read time (two-phase, §7.2).
BinderError Context::translateFd(Process* proc, Buffer* buf, const codec::WalkedObject& obj,
                                 uint64_t area_offset, bool in_fda) {
  absl::StatusOr<UniqueFd> file = proc->memory->takeFd(obj.fd);
  if (!file.ok()) {
    return BinderError::failed(EBADF);
  }
  buf->fd_fixups.push_back(FdFixup{std::move(*file), area_offset, in_fda});
  return BinderError::none();
}

// FDA: the u32 array inside the parent's payload copy is rewritten with receiver fds at read time.
BinderError Context::translateFda(Process* proc, Process* target, Buffer* buf,
                                  const codec::WalkedObject& obj) {
  const codec::WalkedObject& parent = walked_[obj.parent];
  const uint64_t sg_start = align8(buf->data_size) + align8(buf->offsets_size);
  const uint64_t base = buf->offset + sg_start + parent.sg_offset + obj.parent_offset;
  TranslatedObject rec;
  rec.kind = TranslatedObject::Kind::kFdArray;
  buf->objects.push_back(rec);
  for (uint64_t i = 0; i < obj.num_fds; ++i) {
    // The sender's fd numbers, read from the payload copy made from the sender's memory once.
    const uint32_t fd = loadAt<uint32_t>(target->area, base + i * sizeof(uint32_t));
    codec::WalkedObject one = obj;
    one.fd = static_cast<int32_t>(fd);
    storeAt(target->area, base + i * sizeof(uint32_t), UINT32_MAX);  // hide sender numbers
    BinderError err = translateFd(proc, buf, one, base + i * sizeof(uint32_t), /*in_fda=*/true);
    if (!err.ok()) {
      return err;
    }
  }
  return BinderError::none();
}

// PTR: `buffer` becomes the receiver address of the payload copy; with a parent, the 8-byte
// pointer at parent_offset inside the parent's copy is patched to that address.
BinderError Context::translatePtr(Process* target, Buffer* buf, const codec::WalkedObject& obj) {
  const uint64_t sg_start = align8(buf->data_size) + align8(buf->offsets_size);
  const uint64_t copy_user = userAddress(target, buf->offset + sg_start + obj.sg_offset);
  binder_buffer_object bbo = loadAt<binder_buffer_object>(target->area, buf->offset + obj.offset);
  bbo.buffer = copy_user;
  storeAt(target->area, buf->offset + obj.offset, bbo);
  if (obj.has_parent) {
    const codec::WalkedObject& parent = walked_[obj.parent];
    storeAt(target->area, buf->offset + sg_start + parent.sg_offset + obj.parent_offset,
            static_cast<binder_uintptr_t>(copy_user));
  }
  buf->objects.push_back({});
  return BinderError::none();
}

// Releases what the buffer holds (kernel binder_transaction_buffer_release): the target node's
// local strong ref and every recorded object, looked up again by ptr/desc as the kernel does.
// FDA fds are closed in the receiver only for delivered buffers (!is_failure).
void Context::releaseBufferObjects(Process* proc, Buffer* buf, bool is_failure) {
  if (Node* target_node = buf->target_node) {
    buf->target_node = nullptr;
    decNode(target_node, /*strong=*/true, /*internal=*/false);
  }
  for (const TranslatedObject& rec : buf->objects) {
    if (rec.kind == TranslatedObject::Kind::kNodeLocal) {
      if (Node* node = getNode(proc, rec.ptr)) {
        decNode(node, rec.strong, /*internal=*/false);
      }
    } else if (rec.kind == TranslatedObject::Kind::kRef) {
      if (NodeRef* ref = getRef(proc, rec.desc, rec.strong)) {
        (void)decRef(ref, rec.strong);
      }
    }
  }
  buf->objects.clear();
  buf->fd_fixups.clear();  // files never installed are dropped
  if (!is_failure && !buf->fda_fds.empty() && !proc->is_dead) {
    effects_.closeClientFds(proc->id, std::move(buf->fda_fds));
  }
  buf->fda_fds.clear();
}

// Returns the chunk to the allocator (honouring TF_CLEAR_BUF) and the record to the pool.
void Context::releaseBuffer(Process* proc, Buffer* buf) {
  if (buf->clear_on_free && proc->mapped) {
    std::memset(proc->area.data() + buf->offset, 0, buf->size);
  }
  proc->alloc.free(buf->offset);
  proc->buffers.erase(buf->offset);
  buf->reset();
  proc->free_buffers.push_back(buf);
}

// BC_FREE_BUFFER after the checks (kernel binder_free_buf): detach from the transaction, advance
// the node's oneway queue (§8.3), release objects, free the chunk.
void Context::freeBuf(Process* proc, Buffer* buf, bool is_failure) {
  if (buf->transaction != nullptr) {
    buf->transaction->buffer = nullptr;
    buf->transaction = nullptr;
  }
  Node* node = buf->target_node;
  if (buf->async && node != nullptr && node->owner == proc) {
    if (WorkItem* next = node->async_todo.popFront()) {
      enqueueProcWork(proc, next);
      wakeupProc(proc);
    } else {
      node->has_async_transaction = false;
    }
  }
  releaseBufferObjects(proc, buf, is_failure);
  releaseBuffer(proc, buf);
}

}  // namespace nb::driver
