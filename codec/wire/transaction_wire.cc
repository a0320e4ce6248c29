#include "codec/wire/transaction_wire.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "codec/walk_error.h"

namespace nb::wire {

namespace {

using netbinder::v1::BinderRef;
using netbinder::v1::WireObject;
using netbinder::v1::WireParcel;

static_assert(sizeof(binder_size_t) == 8 && sizeof(binder_uintptr_t) == 8,
              "the wire converter models the 64-bit binder ABI only");

constexpr uint64_t kFlatSize = sizeof(flat_binder_object);     // 24
constexpr uint64_t kFdObjectSize = sizeof(binder_fd_object);   // 24
constexpr uint64_t kFdaSize = sizeof(binder_fd_array_object);  // 32
constexpr uint64_t kPtrSize = sizeof(binder_buffer_object);    // 40
constexpr uint64_t kPointerSlot = sizeof(binder_uintptr_t);    // a child PTR's slot in its parent
constexpr uint64_t kFdSlot = sizeof(uint32_t);                 // one FDA entry in its parent
constexpr uint64_t kObjectAlignment = sizeof(uint32_t);        // CVE-2024-26926

constexpr char kObjectIndexPayload[] = "type.netbinder/nb.wire.ObjectIndex";
constexpr char kMapperFailurePayload[] = "type.netbinder/nb.wire.MapperFailure";

// Callers only pass values bounded by ParcelLimits (far below 2^63), so this cannot wrap.
uint64_t alignUp8(uint64_t value) { return (value + 7) & ~uint64_t{7}; }

template <typename T>
T load(std::span<const uint8_t> bytes, uint64_t offset) {
  static_assert(std::is_trivially_copyable_v<T>);
  T value;
  // SAFETY: every caller checked offset + sizeof(T) <= bytes.size() (walker-validated bounds on
  // send, planned bounds on receive).
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

template <typename T>
void store(uint8_t* bytes, uint64_t offset, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  // SAFETY: as for load(): the destination range was validated by the caller.
  std::memcpy(bytes + offset, &value, sizeof(T));
}

bool allZero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t byte) { return byte == 0; });
}

std::span<const uint8_t> asBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const char* wireKindName(const WireObject& object) {
  switch (object.kind_case()) {
    case WireObject::kBinder:
      return object.binder().weak() ? "weak binder" : "binder";
    case WireObject::kFd:
      return "fd";
    case WireObject::kFdArray:
      return "fd array";
    case WireObject::kPtr:
      return "ptr";
    case WireObject::KIND_NOT_SET:
      break;
  }
  return "unknown kind";
}

absl::Status withIndex(absl::Status status, size_t index) {
  status.SetPayload(kObjectIndexPayload, absl::Cord(absl::StrCat(index)));
  return status;
}

// An error about object `index` of a local buffer (send side).
absl::Status localObjectError(absl::StatusCode code, const codec::WalkedObject& object,
                              absl::string_view detail) {
  return withIndex(absl::Status(code, absl::StrCat("local object ", object.index, " (",
                                                   codec::objectKindName(object.kind),
                                                   " at offset ", object.offset, "): ", detail)),
                   object.index);
}

// An error about object `index` of a WireParcel (receive side).
absl::Status wireObjectError(absl::StatusCode code, const WireParcel& wire, size_t index,
                             absl::string_view detail) {
  const WireObject& object = wire.objects(static_cast<int>(index));
  return withIndex(
      absl::Status(code, absl::StrCat("wire object ", index, " (", wireKindName(object),
                                      " at offset ", object.offset(), "): ", detail)),
      index);
}

// Keeps the mapper's status code, names the object, and marks it as a mapper failure.
absl::Status mapperError(const absl::Status& mapper_status, absl::Status located) {
  absl::Status status(mapper_status.code(),
                      absl::StrCat(located.message(), "mapper: ", mapper_status.message()));
  status.SetPayload(kMapperFailurePayload, absl::Cord("1"));
  if (auto index = located.GetPayload(kObjectIndexPayload)) {
    status.SetPayload(kObjectIndexPayload, *index);
  }
  return status;
}

bool validSide(netbinder::v1::OwnerSide side) {
  return side == netbinder::v1::OWNER_SIDE_SENDER_EXPORT ||
         side == netbinder::v1::OWNER_SIDE_RECEIVER_EXPORT;
}

// ---------------------------------------------------------------------------------------------
// Sending side.

class WireEncoder {
 public:
  WireEncoder(const LocalBufferView& local, ObjectMapper& mapper, const ParcelLimits& limits,
              WireParcel* out)
      : local_(local), mapper_(mapper), limits_(limits), out_(out) {}

  absl::Status run() {
    absl::Status status = encodeAll();
    if (!status.ok()) {
      undoAll();
    }
    return status;
  }

 private:
  // One successful mapper call, kept so a later failure can undo it.
  struct Mapped {
    bool is_binder;
    codec::WalkedObject object;
    WireBinderRef ref;
    uint64_t fd_id;
  };
  // Where a PTR's payload lies in local_.buffers, by object index.
  struct PtrPayload {
    uint64_t sg_offset = 0;
    uint64_t length = 0;
  };

  absl::Status encodeAll();
  absl::Status encodeObject(const codec::WalkedObject& object, WireObject* wire);
  absl::Status encodeBinder(const codec::WalkedObject& object, WireObject* wire);
  absl::Status encodeFd(const codec::WalkedObject& object, WireObject* wire);
  absl::Status encodePtr(const codec::WalkedObject& object, WireObject* wire);
  absl::Status encodeFda(const codec::WalkedObject& object, WireObject* wire);
  absl::Status countFds(const codec::WalkedObject& object, uint64_t count);
  // Zeroes `size` bytes at `offset` of the parent PTR's wire copy (a fixup slot).
  absl::Status zeroParentSlot(const codec::WalkedObject& object, uint64_t size);
  void undoAll();

  const LocalBufferView& local_;
  ObjectMapper& mapper_;
  const ParcelLimits& limits_;
  WireParcel* out_;
  std::vector<Mapped> mapped_;
  std::vector<PtrPayload> ptrs_;
  uint64_t fds_ = 0;
};

absl::Status WireEncoder::encodeAll() {
  out_->Clear();
  if (local_.data.size() > limits_.max_data_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "data size ", local_.data.size(), " exceeds the limit of ", limits_.max_data_bytes));
  }
  const uint64_t object_count = local_.offsets.size() / sizeof(binder_size_t);
  if (object_count > limits_.max_objects) {
    return absl::ResourceExhaustedError(
        absl::StrCat(object_count, " objects exceed the limit of ", limits_.max_objects));
  }
  out_->set_data(reinterpret_cast<const char*>(local_.data.data()), local_.data.size());
  out_->mutable_objects()->Reserve(static_cast<int>(object_count));
  ptrs_.resize(object_count);

  codec::ObjectWalker walker(local_.data, local_.offsets, local_.buffers.size());
  while (const codec::WalkedObject* object = walker.next()) {
    WireObject* wire = out_->add_objects();
    wire->set_offset(object->offset);
    if (absl::Status status = encodeObject(*object, wire); !status.ok()) {
      return status;
    }
    if (walker.sgUsed() > limits_.max_buffer_bytes) {
      return localObjectError(absl::StatusCode::kResourceExhausted, *object,
                              absl::StrCat("scatter-gather bytes ", walker.sgUsed(),
                                           " exceed the limit of ", limits_.max_buffer_bytes));
    }
    // The object's own bytes never reach the wire: the receiver writes its local object there.
    std::memset(out_->mutable_data()->data() + object->offset, 0, object->size);
  }
  if (walker.failed()) {
    const codec::WalkError error = *walker.error();
    const std::string what =
        absl::StrCat(codec::walkErrorName(error), " (errno ", codec::walkErrorErrno(error), ")");
    // The size rules are about the whole buffer, not about object 0.
    if (error == codec::WalkError::kOffsetsSizeUnaligned ||
        error == codec::WalkError::kBuffersSizeUnaligned ||
        error == codec::WalkError::kSizeOverflow) {
      return absl::InvalidArgumentError(absl::StrCat("local buffer rejected: ", what));
    }
    return withIndex(absl::InvalidArgumentError(absl::StrCat("local buffer rejected at object ",
                                                             walker.failedIndex(), ": ", what)),
                     walker.failedIndex());
  }
  return absl::OkStatus();
}

absl::Status WireEncoder::encodeObject(const codec::WalkedObject& object, WireObject* wire) {
  switch (object.kind) {
    case codec::ObjectKind::kBinder:
    case codec::ObjectKind::kWeakBinder:
    case codec::ObjectKind::kHandle:
    case codec::ObjectKind::kWeakHandle:
      return encodeBinder(object, wire);
    case codec::ObjectKind::kFd:
      return encodeFd(object, wire);
    case codec::ObjectKind::kPtr:
      return encodePtr(object, wire);
    case codec::ObjectKind::kFdArray:
      return encodeFda(object, wire);
  }
  return localObjectError(absl::StatusCode::kInternal, object, "unknown object kind");
}

absl::Status WireEncoder::encodeBinder(const codec::WalkedObject& object, WireObject* wire) {
  absl::StatusOr<WireBinderRef> ref = mapper_.toWireBinder(object);
  if (!ref.ok()) {
    return mapperError(ref.status(), localObjectError(ref.status().code(), object, ""));
  }
  if (!validSide(ref->side) || ref->export_id == 0) {
    mapper_.undoToWireBinder(object, *ref);
    return localObjectError(
        absl::StatusCode::kInternal, object,
        absl::StrCat("mapper returned an invalid reference (side ", static_cast<int>(ref->side),
                     ", export id ", ref->export_id, ")"));
  }
  mapped_.push_back(Mapped{true, object, *ref, 0});
  BinderRef* binder = wire->mutable_binder();
  binder->set_side(ref->side);
  binder->set_export_id(ref->export_id);
  if (ref->side == netbinder::v1::OWNER_SIDE_SENDER_EXPORT) {
    binder->set_owner_key(ref->owner_key);
  }
  binder->set_weak(object.kind == codec::ObjectKind::kWeakBinder ||
                   object.kind == codec::ObjectKind::kWeakHandle);
  binder->set_flags(object.flags);
  return absl::OkStatus();
}

absl::Status WireEncoder::countFds(const codec::WalkedObject& object, uint64_t count) {
  if (count > limits_.max_fds || fds_ > limits_.max_fds - count) {
    return localObjectError(absl::StatusCode::kResourceExhausted, object,
                            absl::StrCat("more than ", limits_.max_fds, " fds in one parcel"));
  }
  fds_ += count;
  return absl::OkStatus();
}

absl::Status WireEncoder::encodeFd(const codec::WalkedObject& object, WireObject* wire) {
  if (absl::Status status = countFds(object, 1); !status.ok()) {
    return status;
  }
  absl::StatusOr<uint64_t> fd_id = mapper_.toWireFd(object.fd, object, 0);
  if (!fd_id.ok()) {
    return mapperError(fd_id.status(), localObjectError(fd_id.status().code(), object, ""));
  }
  if (*fd_id == 0) {
    return localObjectError(absl::StatusCode::kInternal, object, "mapper returned fd id 0");
  }
  mapped_.push_back(Mapped{false, object, {}, *fd_id});
  wire->mutable_fd()->set_fd_id(*fd_id);
  wire->mutable_fd()->set_cookie(object.cookie);
  return absl::OkStatus();
}

absl::Status WireEncoder::encodePtr(const codec::WalkedObject& object, WireObject* wire) {
  // The walker proved sg_offset + length <= buffers.size() (the payload fits the SG area).
  ptrs_[object.index] = PtrPayload{object.sg_offset, object.length};
  const auto payload = local_.buffers.subspan(object.sg_offset, object.length);
  netbinder::v1::PtrBuffer* ptr = wire->mutable_ptr();
  ptr->set_data(reinterpret_cast<const char*>(payload.data()), payload.size());
  if (!object.has_parent) {
    return absl::OkStatus();
  }
  ptr->set_has_parent(true);
  ptr->set_parent_index(static_cast<uint32_t>(object.parent));
  ptr->set_parent_offset(object.parent_offset);
  // The parent's slot holds this buffer's (local) address: zero it in the wire copy.
  return zeroParentSlot(object, kPointerSlot);
}

absl::Status WireEncoder::encodeFda(const codec::WalkedObject& object, WireObject* wire) {
  if (absl::Status status = countFds(object, object.num_fds); !status.ok()) {
    return status;
  }
  netbinder::v1::FdArray* fda = wire->mutable_fd_array();
  fda->set_parent_index(static_cast<uint32_t>(object.parent));
  fda->set_parent_offset(object.parent_offset);
  if (object.num_fds == 0) {
    return absl::OkStatus();
  }
  // The walker proved: parent < index is a PTR, parent_offset + 4 * num_fds <= parent length.
  const PtrPayload& parent = ptrs_[object.parent];
  const auto fds =
      local_.buffers.subspan(parent.sg_offset + object.parent_offset, object.num_fds * kFdSlot);
  for (uint64_t i = 0; i < object.num_fds; ++i) {
    const auto fd = static_cast<int32_t>(load<uint32_t>(fds, i * kFdSlot));
    absl::StatusOr<uint64_t> fd_id = mapper_.toWireFd(fd, object, i);
    if (!fd_id.ok()) {
      return mapperError(fd_id.status(), localObjectError(fd_id.status().code(), object,
                                                          absl::StrCat("fd ", i, ": ")));
    }
    if (*fd_id == 0) {
      return localObjectError(absl::StatusCode::kInternal, object, "mapper returned fd id 0");
    }
    mapped_.push_back(Mapped{false, object, {}, *fd_id});
    fda->add_fd_ids(*fd_id);
  }
  return zeroParentSlot(object, object.num_fds * kFdSlot);
}

absl::Status WireEncoder::zeroParentSlot(const codec::WalkedObject& object, uint64_t size) {
  const auto parent_index = static_cast<int>(object.parent);
  // Re-checked although the walker guarantees it: this is the one write into a wire payload.
  if (object.parent >= object.index || !out_->objects(parent_index).has_ptr()) {
    return localObjectError(absl::StatusCode::kInternal, object, "parent is not an earlier PTR");
  }
  std::string* parent = out_->mutable_objects(parent_index)->mutable_ptr()->mutable_data();
  if (size > parent->size() || object.parent_offset > parent->size() - size) {
    return localObjectError(absl::StatusCode::kInternal, object, "fixup outside its parent");
  }
  std::memset(parent->data() + object.parent_offset, 0, size);
  return absl::OkStatus();
}

void WireEncoder::undoAll() {
  for (auto it = mapped_.rbegin(); it != mapped_.rend(); ++it) {
    if (it->is_binder) {
      mapper_.undoToWireBinder(it->object, it->ref);
    } else {
      mapper_.undoToWireFd(it->fd_id);
    }
  }
  mapped_.clear();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Receiving side. Pass 1 (planWire) checks every rule and computes the layout without side
// effects; pass 2 (WireDecoder) calls the mapper and writes the local objects.

namespace {

// Per object, what pass 1 learned.
struct ObjectPlan {
  uint64_t size = 0;       // size of the local object structure
  uint64_t sg_offset = 0;  // PTR: where its payload goes in the scatter-gather area
};

struct WirePlan {
  std::vector<ObjectPlan> objects;
  uint64_t buffers_size = 0;
};

// The driver's fixup-order state (kernel last_fixup_obj_off / last_fixup_min_off), by object
// index. `valid` false is the kernel's "offset 0 = no parent yet" (kernel-binder.md §17.4).
struct FixupState {
  bool valid = false;
  size_t last = 0;
  uint64_t min_offset = 0;
};

uint64_t localSize(const WireObject& object) {
  switch (object.kind_case()) {
    case WireObject::kBinder:
      return kFlatSize;
    case WireObject::kFd:
      return kFdObjectSize;
    case WireObject::kFdArray:
      return kFdaSize;
    case WireObject::kPtr:
      return kPtrSize;
    case WireObject::KIND_NOT_SET:
      break;
  }
  return 0;
}

class WirePlanner {
 public:
  WirePlanner(const WireParcel& wire, const ParcelLimits& limits) : wire_(wire), limits_(limits) {}

  absl::StatusOr<WirePlan> run();

 private:
  absl::Status planObject(size_t index);
  absl::Status planBinder(size_t index);
  absl::Status planFd(size_t index);
  absl::Status planPtr(size_t index);
  absl::Status planFda(size_t index);
  // The parent must be an earlier PTR (CVE-2020-0041) and the fixup allowed by the order rule.
  absl::Status checkParent(size_t index, uint64_t parent_index, uint64_t parent_offset);
  bool fixupAllowed(size_t parent_index, uint64_t fixup_offset) const;
  absl::Status addFdIds(size_t index, std::span<const uint64_t> ids);
  absl::Status error(size_t index, absl::string_view detail) const {
    return wireObjectError(absl::StatusCode::kInvalidArgument, wire_, index, detail);
  }

  const WireParcel& wire_;
  const ParcelLimits& limits_;
  WirePlan plan_;
  FixupState fixup_;
  uint64_t end_of_previous_ = 0;
  std::vector<uint64_t> fd_ids_;
};

absl::StatusOr<WirePlan> WirePlanner::run() {
  if (wire_.data().size() > limits_.max_data_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "data size ", wire_.data().size(), " exceeds the limit of ", limits_.max_data_bytes));
  }
  const auto count = static_cast<uint64_t>(wire_.objects_size());
  if (count > limits_.max_objects) {
    return absl::ResourceExhaustedError(
        absl::StrCat(count, " objects exceed the limit of ", limits_.max_objects));
  }
  plan_.objects.resize(count);
  for (size_t i = 0; i < count; ++i) {
    if (absl::Status status = planObject(i); !status.ok()) {
      return status;
    }
  }
  // Each payload may be consumed once: a repeated id is a peer bug (or an attack on the table).
  std::sort(fd_ids_.begin(), fd_ids_.end());
  if (auto dup = std::adjacent_find(fd_ids_.begin(), fd_ids_.end()); dup != fd_ids_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("fd payload id ", *dup, " is referenced more than once"));
  }
  return std::move(plan_);
}

absl::Status WirePlanner::planObject(size_t index) {
  const WireObject& object = wire_.objects(static_cast<int>(index));
  const uint64_t size = localSize(object);
  if (size == 0) {
    return error(index, "no known object kind is set");
  }
  const uint64_t offset = object.offset();
  const uint64_t data_size = wire_.data().size();
  if (offset % kObjectAlignment != 0) {
    return error(index, "offset is not 4-aligned");
  }
  if (offset < end_of_previous_) {
    return error(index, absl::StrCat("overlaps the previous object, which ends at offset ",
                                     end_of_previous_));
  }
  if (offset > data_size || size > data_size - offset) {
    return error(index, absl::StrCat("a ", size, "-byte object does not fit in ", data_size,
                                     " bytes of data"));
  }
  if (!allZero(asBytes(wire_.data()).subspan(offset, size))) {
    return error(index, "the object's bytes in data are not zero");
  }
  plan_.objects[index].size = size;
  end_of_previous_ = offset + size;
  switch (object.kind_case()) {
    case WireObject::kBinder:
      return planBinder(index);
    case WireObject::kFd:
      return planFd(index);
    case WireObject::kPtr:
      return planPtr(index);
    case WireObject::kFdArray:
      return planFda(index);
    case WireObject::KIND_NOT_SET:
      break;
  }
  return error(index, "no known object kind is set");
}

absl::Status WirePlanner::planBinder(size_t index) {
  const BinderRef& ref = wire_.objects(static_cast<int>(index)).binder();
  if (!validSide(ref.side())) {
    return error(index, absl::StrCat("invalid owner side ", static_cast<int>(ref.side())));
  }
  if (ref.export_id() == 0) {
    return error(index, "export id 0 is reserved");
  }
  return absl::OkStatus();
}

absl::Status WirePlanner::planFd(size_t index) {
  const uint64_t id = wire_.objects(static_cast<int>(index)).fd().fd_id();
  return addFdIds(index, std::span<const uint64_t>(&id, 1));
}

absl::Status WirePlanner::addFdIds(size_t index, std::span<const uint64_t> ids) {
  if (ids.size() > limits_.max_fds || fd_ids_.size() > limits_.max_fds - ids.size()) {
    return wireObjectError(absl::StatusCode::kResourceExhausted, wire_, index,
                           absl::StrCat("more than ", limits_.max_fds, " fds in one parcel"));
  }
  for (const uint64_t id : ids) {
    if (id == 0) {
      return error(index, "fd payload id 0 is reserved");
    }
    fd_ids_.push_back(id);
  }
  return absl::OkStatus();
}

absl::Status WirePlanner::planPtr(size_t index) {
  const WireObject& object = wire_.objects(static_cast<int>(index));
  const netbinder::v1::PtrBuffer& ptr = object.ptr();
  const uint64_t length = ptr.data().size();
  // length <= frame size, so neither the rounding nor the sum can wrap.
  if (alignUp8(length) > limits_.max_buffer_bytes - plan_.buffers_size) {
    return wireObjectError(
        absl::StatusCode::kResourceExhausted, wire_, index,
        absl::StrCat("scatter-gather bytes exceed the limit of ", limits_.max_buffer_bytes));
  }
  plan_.objects[index].sg_offset = plan_.buffers_size;
  plan_.buffers_size += alignUp8(length);
  if (ptr.has_parent()) {
    if (absl::Status status = checkParent(index, ptr.parent_index(), ptr.parent_offset());
        !status.ok()) {
      return status;
    }
    const std::string& parent = wire_.objects(static_cast<int>(ptr.parent_index())).ptr().data();
    if (parent.size() < kPointerSlot || ptr.parent_offset() > parent.size() - kPointerSlot) {
      return error(index, "the pointer slot does not fit in the parent buffer");
    }
    if (!allZero(asBytes(parent).subspan(ptr.parent_offset(), kPointerSlot))) {
      return error(index, "the pointer slot in the parent buffer is not zero");
    }
  } else if (ptr.parent_index() != 0 || ptr.parent_offset() != 0) {
    return error(index, "parent fields set without has_parent");
  }
  // This PTR is now where later fixups may land, from its start. A PTR at offset 0 cannot be a
  // fixup target: the driver uses offset 0 as "none" and we must not accept what it rejects.
  fixup_ = FixupState{object.offset() != 0, index, 0};
  return absl::OkStatus();
}

absl::Status WirePlanner::planFda(size_t index) {
  const netbinder::v1::FdArray& fda = wire_.objects(static_cast<int>(index)).fd_array();
  const auto ids = std::span<const uint64_t>(fda.fd_ids().data(), fda.fd_ids().size());
  if (absl::Status status = addFdIds(index, ids); !status.ok()) {
    return status;
  }
  if (absl::Status status = checkParent(index, fda.parent_index(), fda.parent_offset());
      !status.ok()) {
    return status;
  }
  const uint64_t array_bytes = ids.size() * kFdSlot;  // <= 4 * max_fds: no overflow
  // As the driver: an empty array is a no-op wherever it points (walker: checkFdArray()).
  if (!ids.empty()) {
    const std::string& parent = wire_.objects(static_cast<int>(fda.parent_index())).ptr().data();
    if (array_bytes > parent.size() || fda.parent_offset() > parent.size() - array_bytes) {
      return error(index, "the fd array does not fit in the parent buffer");
    }
    // Payloads are placed 8-aligned (here and in the rebuilt buffer), so only the offset counts.
    if (fda.parent_offset() % kFdSlot != 0) {
      return error(index, "the fd array is not 4-aligned in the parent buffer");
    }
    if (!allZero(asBytes(parent).subspan(fda.parent_offset(), array_bytes))) {
      return error(index, "the fd array slots in the parent buffer are not zero");
    }
  }
  const uint64_t parent_offset =
      wire_.objects(static_cast<int>(fda.parent_index())).offset();  // of the parent object
  fixup_ = FixupState{parent_offset != 0, fda.parent_index(), fda.parent_offset() + array_bytes};
  return absl::OkStatus();
}

absl::Status WirePlanner::checkParent(size_t index, uint64_t parent_index, uint64_t parent_offset) {
  if (parent_index >= index) {
    return error(index, absl::StrCat("parent index ", parent_index, " is not an earlier object"));
  }
  if (!wire_.objects(static_cast<int>(parent_index)).has_ptr()) {
    return error(index, absl::StrCat("parent ", parent_index, " is not a ptr buffer"));
  }
  if (!fixupAllowed(static_cast<size_t>(parent_index), parent_offset)) {
    return error(index, absl::StrCat("fixup at offset ", parent_offset, " of parent ", parent_index,
                                     " is out of order (not the last buffer or its ancestor, or "
                                     "below an earlier fixup)"));
  }
  return absl::OkStatus();
}

bool WirePlanner::fixupAllowed(size_t parent_index, uint64_t fixup_offset) const {
  if (!fixup_.valid) {
    return false;
  }
  // binder_validate_fixup(): walk up from the last PTR to the parent; each step up raises the
  // minimum to just past the pointer to the buffer we came from. Every PTR seen here was planned,
  // so its parent is an earlier PTR and the walk terminates.
  size_t current = fixup_.last;
  uint64_t min_offset = fixup_.min_offset;
  while (current != parent_index) {
    const netbinder::v1::PtrBuffer& last = wire_.objects(static_cast<int>(current)).ptr();
    if (!last.has_parent()) {
      return false;
    }
    min_offset = last.parent_offset() + kPointerSlot;  // planned: fits in the parent, no wrap
    current = last.parent_index();
  }
  return fixup_offset >= min_offset;
}

}  // namespace

class WireDecoder {
 public:
  WireDecoder(const WireParcel& wire, const WirePlan& plan, ObjectMapper& mapper)
      : wire_(wire), plan_(plan), mapper_(mapper) {}

  absl::StatusOr<LocalBuffer> run();

 private:
  struct Mapped {
    bool is_binder;
    size_t index;
    flat_binder_object local;
    uint64_t fd_id;
    int32_t fd;
  };

  absl::Status decodeObject(size_t index);
  absl::Status decodeBinder(size_t index);
  absl::Status decodeFd(size_t index);
  void decodePtr(size_t index);
  absl::Status decodeFda(size_t index);
  absl::StatusOr<int32_t> mapFd(size_t index, uint64_t fd_id, absl::string_view what);
  uint8_t* payload(size_t index) {
    return reinterpret_cast<uint8_t*>(buffer_.buffers_.data()) + plan_.objects[index].sg_offset;
  }
  void undoAll();

  const WireParcel& wire_;
  const WirePlan& plan_;
  ObjectMapper& mapper_;
  LocalBuffer buffer_;
  std::vector<Mapped> mapped_;
};

absl::StatusOr<LocalBuffer> WireDecoder::run() {
  const auto& data = wire_.data();
  buffer_.data_.assign(data.begin(), data.end());
  buffer_.offsets_.resize(static_cast<size_t>(wire_.objects_size()));
  buffer_.buffers_.assign(plan_.buffers_size / sizeof(uint64_t), 0);
  for (size_t i = 0; i < buffer_.offsets_.size(); ++i) {
    if (absl::Status status = decodeObject(i); !status.ok()) {
      undoAll();
      return status;
    }
  }
  return std::move(buffer_);
}

absl::Status WireDecoder::decodeObject(size_t index) {
  const WireObject& object = wire_.objects(static_cast<int>(index));
  buffer_.offsets_[index] = object.offset();
  switch (object.kind_case()) {
    case WireObject::kBinder:
      return decodeBinder(index);
    case WireObject::kFd:
      return decodeFd(index);
    case WireObject::kPtr:
      decodePtr(index);
      return absl::OkStatus();
    case WireObject::kFdArray:
      return decodeFda(index);
    case WireObject::KIND_NOT_SET:
      break;
  }
  return wireObjectError(absl::StatusCode::kInternal, wire_, index, "not planned");
}

absl::Status WireDecoder::decodeBinder(size_t index) {
  const BinderRef& ref = wire_.objects(static_cast<int>(index)).binder();
  absl::StatusOr<flat_binder_object> local = mapper_.fromWireBinder(ref);
  if (!local.ok()) {
    return mapperError(local.status(), wireObjectError(local.status().code(), wire_, index, ""));
  }
  const uint32_t type = local->hdr.type;
  const bool type_ok = ref.weak()
                           ? (type == BINDER_TYPE_WEAK_BINDER || type == BINDER_TYPE_WEAK_HANDLE)
                           : (type == BINDER_TYPE_BINDER || type == BINDER_TYPE_HANDLE);
  if (!type_ok) {
    mapper_.undoFromWireBinder(ref, *local);
    return wireObjectError(
        absl::StatusCode::kInternal, wire_, index,
        absl::StrCat("mapper returned object type 0x", absl::Hex(type), ", not a ",
                     ref.weak() ? "weak" : "strong", " binder type"));
  }
  mapped_.push_back(Mapped{true, index, *local, 0, 0});
  store(buffer_.data_.data(), wire_.objects(static_cast<int>(index)).offset(), *local);
  return absl::OkStatus();
}

absl::StatusOr<int32_t> WireDecoder::mapFd(size_t index, uint64_t fd_id, absl::string_view what) {
  absl::StatusOr<int32_t> fd = mapper_.fromWireFd(fd_id);
  if (!fd.ok()) {
    return mapperError(fd.status(), wireObjectError(fd.status().code(), wire_, index,
                                                    absl::StrCat(what, "fd id ", fd_id, ": ")));
  }
  mapped_.push_back(Mapped{false, index, {}, fd_id, *fd});
  return fd;
}

absl::Status WireDecoder::decodeFd(size_t index) {
  const WireObject& object = wire_.objects(static_cast<int>(index));
  absl::StatusOr<int32_t> fd = mapFd(index, object.fd().fd_id(), "");
  if (!fd.ok()) {
    return fd.status();
  }
  binder_fd_object local{};
  local.hdr.type = BINDER_TYPE_FD;
  local.fd = static_cast<uint32_t>(*fd);
  local.cookie = object.fd().cookie();
  store(buffer_.data_.data(), object.offset(), local);
  return absl::OkStatus();
}

void WireDecoder::decodePtr(size_t index) {
  const WireObject& object = wire_.objects(static_cast<int>(index));
  const netbinder::v1::PtrBuffer& ptr = object.ptr();
  uint8_t* target = payload(index);
  std::memcpy(target, ptr.data().data(), ptr.data().size());
  binder_buffer_object local{};
  local.hdr.type = BINDER_TYPE_PTR;
  local.buffer = reinterpret_cast<binder_uintptr_t>(target);
  local.length = ptr.data().size();
  if (ptr.has_parent()) {
    local.flags = BINDER_BUFFER_FLAG_HAS_PARENT;
    local.parent = ptr.parent_index();
    local.parent_offset = ptr.parent_offset();
    // As a real sender's buffer would: the parent holds the pointer to this payload. Planned: the
    // slot fits, and parents come first, so the parent's payload is already in place.
    store(payload(ptr.parent_index()), ptr.parent_offset(), local.buffer);
  }
  store(buffer_.data_.data(), object.offset(), local);
}

absl::Status WireDecoder::decodeFda(size_t index) {
  const WireObject& object = wire_.objects(static_cast<int>(index));
  const netbinder::v1::FdArray& fda = object.fd_array();
  for (int i = 0; i < fda.fd_ids_size(); ++i) {
    absl::StatusOr<int32_t> fd = mapFd(index, fda.fd_ids(i), absl::StrCat("fd ", i, ", "));
    if (!fd.ok()) {
      return fd.status();
    }
    // Planned: parent_offset + 4 * count fits in the parent payload.
    store(payload(fda.parent_index()), fda.parent_offset() + static_cast<uint64_t>(i) * kFdSlot,
          static_cast<uint32_t>(*fd));
  }
  binder_fd_array_object local{};
  local.hdr.type = BINDER_TYPE_FDA;
  local.num_fds = static_cast<binder_size_t>(fda.fd_ids_size());
  local.parent = fda.parent_index();
  local.parent_offset = fda.parent_offset();
  store(buffer_.data_.data(), object.offset(), local);
  return absl::OkStatus();
}

void WireDecoder::undoAll() {
  for (auto it = mapped_.rbegin(); it != mapped_.rend(); ++it) {
    if (it->is_binder) {
      mapper_.undoFromWireBinder(wire_.objects(static_cast<int>(it->index)).binder(), it->local);
    } else {
      mapper_.undoFromWireFd(it->fd_id, it->fd);
    }
  }
  mapped_.clear();
}

// ---------------------------------------------------------------------------------------------

absl::Status toWireParcel(const LocalBufferView& local, ObjectMapper& mapper,
                          const ParcelLimits& limits, WireParcel* out) {
  return WireEncoder(local, mapper, limits, out).run();
}

std::span<const uint8_t> LocalBuffer::offsetsBytes() const {
  return {reinterpret_cast<const uint8_t*>(offsets_.data()),
          offsets_.size() * sizeof(binder_size_t)};
}

std::span<const uint8_t> LocalBuffer::buffers() const {
  return {reinterpret_cast<const uint8_t*>(buffers_.data()), buffers_.size() * sizeof(uint64_t)};
}

absl::Status validateWireParcel(const WireParcel& wire, const ParcelLimits& limits) {
  return WirePlanner(wire, limits).run().status();
}

absl::StatusOr<LocalBuffer> fromWireParcel(const WireParcel& wire, ObjectMapper& mapper,
                                           const ParcelLimits& limits) {
  absl::StatusOr<WirePlan> plan = WirePlanner(wire, limits).run();
  if (!plan.ok()) {
    return plan.status();
  }
  return WireDecoder(wire, *plan, mapper).run();
}

std::optional<size_t> failedObjectIndex(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(kObjectIndexPayload);
  size_t index = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &index)) {
    return std::nullopt;
  }
  return index;
}

bool isMapperFailure(const absl::Status& status) {
  return status.GetPayload(kMapperFailurePayload).has_value();
}

}  // namespace nb::wire
