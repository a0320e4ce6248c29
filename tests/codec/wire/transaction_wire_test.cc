#include "codec/wire/transaction_wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "codec/object_walker.h"
#include "proto/netbinder/v1/frame.pb.h"

namespace nb::wire {
namespace {

using netbinder::v1::OWNER_SIDE_RECEIVER_EXPORT;
using netbinder::v1::OWNER_SIDE_SENDER_EXPORT;
using netbinder::v1::WireObject;
using netbinder::v1::WireParcel;

// Where the builder pretends the delivered scatter-gather area lives (PTR `buffer` values).
constexpr uint64_t kSgBase = 0x7f0000001000;

// Builds a local buffer in the layout the driver delivers: data, offsets, and PTR payloads one
// after another (8-aligned) in the scatter-gather area, parents' pointer slots and fd arrays
// filled in as a real sender's (translated) buffer has them.
class LocalTxn {
 public:
  // Raw payload bytes before the next object (kept on the wire), padded to 4.
  LocalTxn& raw(size_t n, uint8_t seed = 0xA0) {
    for (size_t i = 0; i < n; ++i) {
      data_.push_back(static_cast<uint8_t>(seed + i));
    }
    while (data_.size() % 4 != 0) {
      data_.push_back(0xEE);
    }
    return *this;
  }

  size_t binder(uint32_t type, uint64_t ptr, uint64_t cookie, uint32_t flags = 0x17f) {
    flat_binder_object obj{};
    obj.hdr.type = type;
    obj.flags = flags;
    obj.binder = ptr;
    obj.cookie = cookie;
    return put(obj);
  }

  size_t handle(uint32_t type, uint32_t handle) {
    flat_binder_object obj{};
    obj.hdr.type = type;
    obj.handle = handle;
    return put(obj);
  }

  size_t fd(int32_t fd, uint64_t cookie = 1) {
    binder_fd_object obj{};
    obj.hdr.type = BINDER_TYPE_FD;
    obj.fd = static_cast<uint32_t>(fd);
    obj.cookie = cookie;
    return put(obj);
  }

  size_t ptr(const std::vector<uint8_t>& payload, std::optional<size_t> parent = std::nullopt,
             uint64_t parent_offset = 0) {
    const uint64_t sg_offset = sg_.size();
    sg_.insert(sg_.end(), payload.begin(), payload.end());
    sg_.resize((sg_.size() + 7) & ~size_t{7}, 0);
    binder_buffer_object obj{};
    obj.hdr.type = BINDER_TYPE_PTR;
    obj.buffer = kSgBase + sg_offset;
    obj.length = payload.size();
    if (parent) {
      obj.flags = BINDER_BUFFER_FLAG_HAS_PARENT;
      obj.parent = *parent;
      obj.parent_offset = parent_offset;
      std::memcpy(&sg_[ptr_sg_.at(*parent) + parent_offset], &obj.buffer, 8);
    }
    const size_t index = put(obj);
    ptr_sg_[index] = sg_offset;
    return index;
  }

  size_t fda(size_t parent, uint64_t parent_offset, const std::vector<int32_t>& fds) {
    for (size_t i = 0; i < fds.size(); ++i) {
      std::memcpy(&sg_[ptr_sg_.at(parent) + parent_offset + 4 * i], &fds[i], 4);
    }
    binder_fd_array_object obj{};
    obj.hdr.type = BINDER_TYPE_FDA;
    obj.num_fds = fds.size();
    obj.parent = parent;
    obj.parent_offset = parent_offset;
    return put(obj);
  }

  LocalBufferView view() const {
    return {data_, {reinterpret_cast<const uint8_t*>(offsets_.data()), offsets_.size() * 8}, sg_};
  }
  const std::vector<uint8_t>& data() const { return data_; }
  const std::vector<binder_size_t>& offsets() const { return offsets_; }
  std::vector<uint8_t> payload(size_t index, size_t length) const {
    const auto begin = sg_.begin() + static_cast<ptrdiff_t>(ptr_sg_.at(index));
    return {begin, begin + static_cast<ptrdiff_t>(length)};
  }

 private:
  template <typename T>
  size_t put(const T& obj) {
    offsets_.push_back(data_.size());
    const size_t at = data_.size();
    data_.resize(at + sizeof(T));
    std::memcpy(&data_[at], &obj, sizeof(T));
    return offsets_.size() - 1;
  }

  std::vector<uint8_t> data_;
  std::vector<binder_size_t> offsets_;
  std::vector<uint8_t> sg_;
  std::map<size_t, uint64_t> ptr_sg_;
};

// A mapper with deterministic ids, failure injection, and a count of live (not undone) effects.
//   toWireBinder:  BINDER/WEAK_BINDER -> SENDER_EXPORT, id = cookie; HANDLE/WEAK_HANDLE -> handles
//                  >= 100 came from the peer (RECEIVER_EXPORT, id = handle - 100), else
//                  SENDER_EXPORT with id = handle + 1000.
//   toWireFd:      ids 1, 2, 3... in call order.
//   fromWireBinder SENDER_EXPORT -> (WEAK_)BINDER ptr 0xB000 + id, cookie id;
//                  RECEIVER_EXPORT -> (WEAK_)HANDLE id.
//   fromWireFd:    fd = 100 + id.
class FakeMapper : public ObjectMapper {
 public:
  absl::StatusOr<WireBinderRef> toWireBinder(const codec::WalkedObject& object) override {
    if (shouldFail()) {
      return absl::NotFoundError("no such node");
    }
    ++live;
    if (bad_ref) {
      return WireBinderRef{OWNER_SIDE_SENDER_EXPORT, 0};
    }
    if (object.kind == codec::ObjectKind::kBinder ||
        object.kind == codec::ObjectKind::kWeakBinder) {
      return WireBinderRef{OWNER_SIDE_SENDER_EXPORT, object.cookie};
    }
    if (object.handle >= 100) {
      return WireBinderRef{OWNER_SIDE_RECEIVER_EXPORT, object.handle - 100u};
    }
    return WireBinderRef{OWNER_SIDE_SENDER_EXPORT, object.handle + 1000u};
  }

  absl::StatusOr<uint64_t> toWireFd(int32_t fd, const codec::WalkedObject&, size_t) override {
    if (shouldFail()) {
      return absl::PermissionDeniedError("fd kind not allowed");
    }
    ++live;
    sent_fds.push_back(fd);
    return ++next_fd_id;
  }

  void undoToWireBinder(const codec::WalkedObject&, const WireBinderRef&) override {
    --live;
    ++undos;
  }
  void undoToWireFd(uint64_t) override {
    --live;
    ++undos;
  }

  absl::StatusOr<flat_binder_object> fromWireBinder(const netbinder::v1::BinderRef& ref) override {
    if (shouldFail()) {
      return absl::FailedPreconditionError("export not held");
    }
    ++live;
    flat_binder_object obj{};
    obj.flags = ref.flags() & FLAT_BINDER_FLAG_ACCEPTS_FDS;
    if (bad_type) {
      obj.hdr.type = BINDER_TYPE_FD;
    } else if (ref.side() == OWNER_SIDE_SENDER_EXPORT) {
      obj.hdr.type = ref.weak() ? BINDER_TYPE_WEAK_BINDER : BINDER_TYPE_BINDER;
      obj.binder = 0xB000 + ref.export_id();
      obj.cookie = ref.export_id();
    } else {
      obj.hdr.type = ref.weak() ? BINDER_TYPE_WEAK_HANDLE : BINDER_TYPE_HANDLE;
      obj.handle = static_cast<uint32_t>(ref.export_id());
    }
    return obj;
  }

  absl::StatusOr<int32_t> fromWireFd(uint64_t fd_id) override {
    if (shouldFail()) {
      return absl::ResourceExhaustedError("out of fds");
    }
    ++live;
    return static_cast<int32_t>(100 + fd_id);
  }

  void undoFromWireBinder(const netbinder::v1::BinderRef&, const flat_binder_object&) override {
    --live;
    ++undos;
  }
  void undoFromWireFd(uint64_t, int32_t) override {
    --live;
    ++undos;
  }

  int calls = 0;
  int fail_at = -1;  // 0-based mapping call to fail
  int live = 0;
  int undos = 0;
  bool bad_ref = false;
  bool bad_type = false;
  uint64_t next_fd_id = 0;
  std::vector<int32_t> sent_fds;

 private:
  bool shouldFail() { return calls++ == fail_at; }
};

std::vector<uint8_t> bytesOf(const std::string& s) { return {s.begin(), s.end()}; }

// Walks a rebuilt buffer with the same walker the driver side uses; returns the objects.
std::vector<codec::WalkedObject> walkClean(const LocalBuffer& buffer) {
  codec::ObjectWalker walker(buffer.data(), buffer.offsetsBytes(), buffer.buffers().size());
  std::vector<codec::WalkedObject> objects;
  while (const codec::WalkedObject* object = walker.next()) {
    objects.push_back(*object);
  }
  EXPECT_FALSE(walker.failed()) << "rebuilt buffer fails the walk at object "
                                << walker.failedIndex() << ": "
                                << codec::walkErrorName(*walker.error());
  return objects;
}

template <typename T>
T loadAt(std::span<const uint8_t> bytes, uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// Data bytes outside objects must survive the trip; object bytes must be zero on the wire.
void expectDataPreserved(const LocalTxn& txn, const WireParcel& wire) {
  ASSERT_EQ(wire.data().size(), txn.data().size());
  std::vector<bool> covered(txn.data().size(), false);
  for (const WireObject& object : wire.objects()) {
    const uint64_t size = object.has_ptr() ? 40 : object.has_fd_array() ? 32 : 24;
    for (uint64_t i = 0; i < size; ++i) {
      covered[object.offset() + i] = true;
    }
  }
  for (size_t i = 0; i < covered.size(); ++i) {
    const auto byte = static_cast<uint8_t>(wire.data()[i]);
    EXPECT_EQ(byte, covered[i] ? 0 : txn.data()[i]) << "data byte " << i;
  }
}

// --------------------------------------------------------------------------------------------
// Round trips.

TEST(TransactionWireTest, EmptyParcelRoundTrips) {
  LocalTxn txn;
  FakeMapper mapper;
  WireParcel wire;
  ASSERT_TRUE(toWireParcel(txn.view(), mapper, {}, &wire).ok());
  EXPECT_TRUE(wire.data().empty());
  EXPECT_EQ(wire.objects_size(), 0);
  absl::StatusOr<LocalBuffer> local = fromWireParcel(wire, mapper, {});
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_TRUE(local->data().empty());
  EXPECT_TRUE(local->offsets().empty());
  EXPECT_TRUE(local->buffers().empty());
}

TEST(TransactionWireTest, PlainDataRoundTrips) {
  LocalTxn txn;
  txn.raw(37, 0x10);
  FakeMapper mapper;
  WireParcel wire;
  ASSERT_TRUE(toWireParcel(txn.view(), mapper, {}, &wire).ok());
  absl::StatusOr<LocalBuffer> local = fromWireParcel(wire, mapper, {});
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(std::vector<uint8_t>(local->data().begin(), local->data().end()), txn.data());
  EXPECT_EQ(mapper.calls, 0);
}

TEST(TransactionWireTest, BinderKindsRoundTrip) {
  LocalTxn txn;
  txn.raw(4);
  txn.binder(BINDER_TYPE_BINDER, 0x5555000010, /*cookie=*/7, 0x17f);
  txn.raw(8);
  txn.binder(BINDER_TYPE_WEAK_BINDER, 0x5555000020, /*cookie=*/8, 0);
  txn.handle(BINDER_TYPE_HANDLE, 3);         // exported by us: SENDER_EXPORT 1003
  txn.handle(BINDER_TYPE_WEAK_HANDLE, 105);  // the peer's node coming home: RECEIVER_EXPORT 5
  txn.raw(4, 0x40);
  FakeMapper mapper;
  WireParcel wire;
  ASSERT_TRUE(toWireParcel(txn.view(), mapper, {}, &wire).ok());
  expectDataPreserved(txn, wire);

  ASSERT_EQ(wire.objects_size(), 4);
  struct Expected {
    netbinder::v1::OwnerSide side;
    uint64_t id;
    bool weak;
    uint32_t flags;
  };
  const Expected expected[] = {{OWNER_SIDE_SENDER_EXPORT, 7, false, 0x17f},
                               {OWNER_SIDE_SENDER_EXPORT, 8, true, 0},
                               {OWNER_SIDE_SENDER_EXPORT, 1003, false, 0},
                               {OWNER_SIDE_RECEIVER_EXPORT, 5, true, 0}};
  for (int i = 0; i < 4; ++i) {
    const WireObject& object = wire.objects(i);
    EXPECT_EQ(object.offset(), txn.offsets()[i]);
    ASSERT_TRUE(object.has_binder()) << i;
    EXPECT_EQ(object.binder().side(), expected[i].side) << i;
    EXPECT_EQ(object.binder().export_id(), expected[i].id) << i;
    EXPECT_EQ(object.binder().weak(), expected[i].weak) << i;
    EXPECT_EQ(object.binder().flags(), expected[i].flags) << i;
  }

  absl::StatusOr<LocalBuffer> local = fromWireParcel(wire, mapper, {});
  ASSERT_TRUE(local.ok()) << local.status();
  const std::vector<codec::WalkedObject> objects = walkClean(*local);
  ASSERT_EQ(objects.size(), 4u);
  EXPECT_EQ(objects[0].kind, codec::ObjectKind::kBinder);
  EXPECT_EQ(objects[0].binder, 0xB000u + 7);
  EXPECT_EQ(objects[0].cookie, 7u);
  EXPECT_EQ(objects[0].flags, uint32_t{FLAT_BINDER_FLAG_ACCEPTS_FDS});  // sanitised by mapper
  EXPECT_EQ(objects[1].kind, codec::ObjectKind::kWeakBinder);
  EXPECT_EQ(objects[2].kind, codec::ObjectKind::kBinder);
  EXPECT_EQ(objects[2].binder, 0xB000u + 1003);
  EXPECT_EQ(objects[3].kind, codec::ObjectKind::kWeakHandle);
  EXPECT_EQ(objects[3].handle, 5u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(local->offsets()[i], txn.offsets()[i]);
  }
  // Bytes around the objects are untouched.
  EXPECT_EQ(local->data()[0], txn.data()[0]);
  EXPECT_EQ(local->data().back(), txn.data().back());
  EXPECT_EQ(mapper.live, 8);  // 4 sent + 4 received, none undone
}

TEST(TransactionWireTest, FdRoundTripsWithCookie) {
  LocalTxn txn;
  txn.raw(4);
  txn.fd(42, /*cookie=*/1);
  txn.fd(43, /*cookie=*/0);
  FakeMapper mapper;
  WireParcel wire;
  ASSERT_TRUE(toWireParcel(txn.view(), mapper, {}, &wire).ok());
  expectDataPreserved(txn, wire);
  EXPECT_EQ(mapper.sent_fds, (std::vector<int32_t>{42, 43}));
  ASSERT_TRUE(wire.objects(0).has_fd());
  EXPECT_EQ(wire.objects(0).fd().fd_id(), 1u);
  EXPECT_EQ(wire.objects(0).fd().cookie(), 1u);
  EXPECT_EQ(wire.objects(1).fd().fd_id(), 2u);

  absl::StatusOr<LocalBuffer> local = fromWireParcel(wire, mapper, {});
  ASSERT_TRUE(local.ok()) << local.status();
  const std::vector<codec::WalkedObject> objects = walkClean(*local);
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].kind, codec::ObjectKind::kFd);
  EXPECT_EQ(objects[0].fd, 101);
  EXPECT_EQ(objects[0].cookie, 1u);
  EXPECT_EQ(objects[1].fd, 102);
  EXPECT_EQ(objects[1].cookie, 0u);
}

// A tree: root A (at a non-zero offset), B pointed to from A[0..8), an FDA of two fds at A[16..24),
// C pointed to from B[8..16), and an empty FDA.
TEST(TransactionWireTest, PtrTreeWithFdaRoundTrips) {
  LocalTxn txn;
  txn.raw(8);
  std::vector<uint8_t> a_bytes(32);
  for (size_t i = 0; i < a_bytes.size(); ++i) {
    a_bytes[i] = static_cast<uint8_t>(0x30 + i);
  }
  const size_t a = txn.ptr(a_bytes);
  const size_t b = txn.ptr(std::vector<uint8_t>(20, 0xBB), a, 0);
  const size_t c = txn.ptr(std::vector<uint8_t>(5, 0xCC), b, 8);
  const size_t fda = txn.fda(a, 16, {7, 9});
  txn.fda(a, 24, {});
  txn.raw(3);
  FakeMapper mapper;
  WireParcel wire;
  absl::Status sent = toWireParcel(txn.view(), mapper, {}, &wire);
  ASSERT_TRUE(sent.ok()) << sent;
  expectDataPreserved(txn, wire);
  EXPECT_EQ(mapper.sent_fds, (std::vector<int32_t>{7, 9}));

  // On the wire: payloads by value, fixup slots zeroed, nothing else changed.
  const auto& wa = wire.objects(static_cast<int>(a)).ptr();
  ASSERT_EQ(wa.data().size(), 32u);
  EXPECT_FALSE(wa.has_parent());
  for (size_t i = 0; i < 32; ++i) {
    const bool slot = i < 8 || (i >= 16 && i < 24);
    EXPECT_EQ(static_cast<uint8_t>(wa.data()[i]), slot ? 0 : a_bytes[i]) << i;
  }
  const auto& wb = wire.objects(static_cast<int>(b)).ptr();
  EXPECT_TRUE(wb.has_parent());
  EXPECT_EQ(wb.parent_index(), a);
  EXPECT_EQ(wb.parent_offset(), 0u);
  EXPECT_EQ(bytesOf(wb.data()).size(), 20u);
  const auto& wfda = wire.objects(static_cast<int>(fda)).fd_array();
  EXPECT_EQ(wfda.parent_index(), a);
  EXPECT_EQ(wfda.parent_offset(), 16u);
  EXPECT_EQ(std::vector<uint64_t>(wfda.fd_ids().begin(), wfda.fd_ids().end()),
            (std::vector<uint64_t>{1, 2}));

  absl::StatusOr<LocalBuffer> local = fromWireParcel(wire, mapper, {});
  ASSERT_TRUE(local.ok()) << local.status();
  const std::vector<codec::WalkedObject> objects = walkClean(*local);
  ASSERT_EQ(objects.size(), 5u);
  const auto sg = local->buffers();
  const auto base = reinterpret_cast<uint64_t>(sg.data());
  // Payload addresses point into the rebuilt scatter-gather area, laid out as the walker expects.
  for (const size_t i : {a, b, c}) {
    EXPECT_EQ(objects[i].buffer, base + objects[i].sg_offset) << i;
  }
  EXPECT_EQ(objects[b].length, 20u);
  EXPECT_EQ(objects[c].length, 5u);
  // Parents hold their children's addresses; the FDA slots hold the local fds.
  EXPECT_EQ(loadAt<uint64_t>(sg, objects[a].sg_offset + 0), objects[b].buffer);
  EXPECT_EQ(loadAt<uint64_t>(sg, objects[b].sg_offset + 8), objects[c].buffer);
  EXPECT_EQ(loadAt<uint32_t>(sg, objects[a].sg_offset + 16), 101u);
  EXPECT_EQ(loadAt<uint32_t>(sg, objects[a].sg_offset + 20), 102u);
  EXPECT_EQ(objects[fda].num_fds, 2u);
  EXPECT_EQ(objects[4].num_fds, 0u);
  // The other payload bytes are the sender's.
  for (size_t i = 8; i < 16; ++i) {
    EXPECT_EQ(sg[objects[a].sg_offset + i], a_bytes[i]);
  }
  EXPECT_EQ(sg[objects[c].sg_offset], 0xCC);
  EXPECT_EQ(sg[objects[b].sg_offset + 19], 0xBB);
}

TEST(TransactionWireTest, SurvivesSerializationInsideAFrame) {
  LocalTxn txn;
  txn.raw(4);
  const size_t a = txn.ptr(std::vector<uint8_t>(16, 1));
  txn.fda(a, 4, {3});
  txn.handle(BINDER_TYPE_HANDLE, 101);
  FakeMapper mapper;
  netbinder::v1::Frame frame;
  frame.set_frame_id(1);
  netbinder::v1::Transaction* transaction = frame.mutable_transaction();
  transaction->set_call_id(9);
  transaction->set_target_export_id(0);
  ASSERT_TRUE(toWireParcel(txn.view(), mapper, {}, transaction->mutable_parcel()).ok());

  netbinder::v1::Frame parsed;
  ASSERT_TRUE(parsed.ParseFromString(frame.SerializeAsString()));
  ASSERT_TRUE(parsed.has_transaction());
  absl::StatusOr<LocalBuffer> local = fromWireParcel(parsed.transaction().parcel(), mapper, {});
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(walkClean(*local).size(), 3u);
}

TEST(TransactionWireTest, LocalBufferMovesKeepAddressesValid) {
  LocalTxn txn;
  txn.raw(4);
  const size_t a = txn.ptr(std::vector<uint8_t>(16, 1));
  txn.ptr(std::vector<uint8_t>(8, 2), a, 8);
  FakeMapper mapper;
  WireParcel wire;
  ASSERT_TRUE(toWireParcel(txn.view(), mapper, {}, &wire).ok());
  absl::StatusOr<LocalBuffer> local = fromWireParcel(wire, mapper, {});
  ASSERT_TRUE(local.ok());
  LocalBuffer moved = std::move(*local);
  const std::vector<codec::WalkedObject> objects = walkClean(moved);
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[1].buffer, reinterpret_cast<uint64_t>(moved.buffers().data()) + 16);
  EXPECT_EQ(loadAt<uint64_t>(moved.buffers(), 8), objects[1].buffer);
}

// --------------------------------------------------------------------------------------------
// Hostile WireParcels: rejected before any mapper call.

// A valid parcel to break: data(48) = [binder @0][ptr A @24... no: A @ 24 is 40 bytes -> 64].
WireParcel validWire() {
  LocalTxn txn;
  txn.raw(4);
  txn.handle(BINDER_TYPE_HANDLE, 3);
  const size_t a = txn.ptr(std::vector<uint8_t>(24, 0x11));
  txn.ptr(std::vector<uint8_t>(8, 0x22), a, 0);
  txn.fda(a, 8, {5, 6});
  txn.fd(8);
  txn.raw(4);
  FakeMapper mapper;
  WireParcel wire;
  EXPECT_TRUE(toWireParcel(txn.view(), mapper, {}, &wire).ok());
  return wire;
}

struct Rejection {
  absl::StatusCode code;
  std::optional<size_t> index;
  std::string message_part;
};

void expectRejected(const WireParcel& wire, const Rejection& want,
                    const ParcelLimits& limits = {}) {
  FakeMapper mapper;
  absl::StatusOr<LocalBuffer> local = fromWireParcel(wire, mapper, limits);
  ASSERT_FALSE(local.ok());
  EXPECT_EQ(local.status().code(), want.code) << local.status();
  EXPECT_EQ(failedObjectIndex(local.status()), want.index) << local.status();
  EXPECT_NE(local.status().message().find(want.message_part), absl::string_view::npos)
      << local.status();
  EXPECT_FALSE(isMapperFailure(local.status()));
  EXPECT_EQ(mapper.calls, 0) << "validation must finish before any mapper call";
  EXPECT_EQ(validateWireParcel(wire, limits).code(), want.code);
}

TEST(TransactionWireHostileTest, ValidBaselineIsAccepted) {
  const WireParcel wire = validWire();
  ASSERT_EQ(wire.objects_size(), 5);
  EXPECT_TRUE(validateWireParcel(wire, {}).ok());
  FakeMapper mapper;
  absl::StatusOr<LocalBuffer> local = fromWireParcel(wire, mapper, {});
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(walkClean(*local).size(), 5u);
}

TEST(TransactionWireHostileTest, OverlappingOffsets) {
  WireParcel wire = validWire();
  wire.mutable_objects(1)->set_offset(wire.objects(0).offset() + 20);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 1, "overlaps the previous object"});
}

TEST(TransactionWireHostileTest, DescendingOffsets) {
  WireParcel wire = validWire();
  wire.mutable_objects()->SwapElements(3, 4);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 4, "overlaps"});
}

TEST(TransactionWireHostileTest, OffsetPastEnd) {
  WireParcel wire = validWire();
  wire.mutable_objects(4)->set_offset(wire.data().size() - 20);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 4, "does not fit"});
  wire.mutable_objects(4)->set_offset(uint64_t{1} << 62);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 4, "does not fit"});
}

TEST(TransactionWireHostileTest, UnalignedOffset) {
  WireParcel wire = validWire();
  wire.mutable_objects(4)->set_offset(wire.objects(4).offset() + 2);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 4, "4-aligned"});
}

TEST(TransactionWireHostileTest, ObjectBytesNotZeroed) {
  WireParcel wire = validWire();
  (*wire.mutable_data())[wire.objects(0).offset() + 8] = 0x42;  // a leaked pointer byte
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 0, "not zero"});
}

TEST(TransactionWireHostileTest, UnknownKind) {
  WireParcel wire = validWire();
  wire.mutable_objects(2)->clear_kind();
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 2, "no known object kind"});

  // A kind from a newer revision arrives as an unknown field: still no kind set.
  WireObject future;
  future.set_offset(wire.objects(0).offset());
  std::string bytes = future.SerializeAsString();
  bytes += std::string("\x7a\x02\x08\x01", 4);  // field 15, length-delimited {1: 1}
  WireParcel fresh = validWire();
  ASSERT_TRUE(fresh.mutable_objects(0)->ParseFromString(bytes));
  EXPECT_EQ(fresh.objects(0).kind_case(), WireObject::KIND_NOT_SET);
  expectRejected(fresh, {absl::StatusCode::kInvalidArgument, 0, "no known object kind"});
}

TEST(TransactionWireHostileTest, BadBinderRefs) {
  WireParcel wire = validWire();
  wire.mutable_objects(0)->mutable_binder()->set_side(netbinder::v1::OWNER_SIDE_UNSPECIFIED);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 0, "invalid owner side"});
  wire = validWire();
  wire.mutable_objects(0)->mutable_binder()->set_side(static_cast<netbinder::v1::OwnerSide>(77));
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 0, "invalid owner side"});
  wire = validWire();
  wire.mutable_objects(0)->mutable_binder()->set_export_id(0);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 0, "export id 0"});
}

TEST(TransactionWireHostileTest, ParentIndexForwardOrSelf) {
  WireParcel wire = validWire();
  wire.mutable_objects(2)->mutable_ptr()->set_parent_index(2);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 2, "not an earlier object"});
  wire.mutable_objects(2)->mutable_ptr()->set_parent_index(4);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 2, "not an earlier object"});
  wire = validWire();
  wire.mutable_objects(3)->mutable_fd_array()->set_parent_index(1000000);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 3, "not an earlier object"});
}

TEST(TransactionWireHostileTest, ParentNotAPtr) {
  WireParcel wire = validWire();
  wire.mutable_objects(3)->mutable_fd_array()->set_parent_index(0);  // the binder
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 3, "not a ptr buffer"});
}

TEST(TransactionWireHostileTest, FixupOutOfOrder) {
  // The FDA lands in A below the end of B's pointer slot (A[0..8)).
  WireParcel wire = validWire();
  wire.mutable_objects(3)->mutable_fd_array()->set_parent_offset(4);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 3, "out of order"});
}

TEST(TransactionWireHostileTest, FixupOutOfBounds) {
  WireParcel wire = validWire();
  wire.mutable_objects(2)->mutable_ptr()->set_parent_offset(20);  // A is 24 bytes
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 2, "does not fit in the parent"});
  wire = validWire();
  wire.mutable_objects(3)->mutable_fd_array()->set_parent_offset(20);  // 2 fds need 8 bytes
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 3, "does not fit in the parent"});
  wire = validWire();
  wire.mutable_objects(3)->mutable_fd_array()->set_parent_offset(uint64_t{1} << 63);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 3, "does not fit in the parent"});
}

TEST(TransactionWireHostileTest, FdaUnaligned) {
  WireParcel wire = validWire();
  wire.mutable_objects(3)->mutable_fd_array()->set_parent_offset(10);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 3, "not 4-aligned"});
}

TEST(TransactionWireHostileTest, FixupSlotsNotZeroed) {
  WireParcel wire = validWire();
  (*wire.mutable_objects(1)->mutable_ptr()->mutable_data())[3] = 1;  // B's slot in A
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 2, "pointer slot"});
  wire = validWire();
  (*wire.mutable_objects(1)->mutable_ptr()->mutable_data())[12] = 1;  // an fd slot in A
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 3, "fd array slots"});
}

TEST(TransactionWireHostileTest, ParentFieldsWithoutFlag) {
  WireParcel wire = validWire();
  wire.mutable_objects(1)->mutable_ptr()->set_parent_offset(8);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 1, "without has_parent"});
}

TEST(TransactionWireHostileTest, PtrAtOffsetZeroCannotBeAParent) {
  // The driver treats a PTR at data offset 0 as "no parent yet" (kernel-binder.md §17.4).
  LocalTxn txn;
  const size_t a = txn.ptr(std::vector<uint8_t>(16, 1));
  txn.ptr(std::vector<uint8_t>(8, 2));
  FakeMapper mapper;
  WireParcel wire;
  ASSERT_TRUE(toWireParcel(txn.view(), mapper, {}, &wire).ok());
  netbinder::v1::PtrBuffer* child = wire.mutable_objects(1)->mutable_ptr();
  child->set_has_parent(true);
  child->set_parent_index(static_cast<uint32_t>(a));
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 1, "out of order"});
}

TEST(TransactionWireHostileTest, FdIds) {
  WireParcel wire = validWire();
  wire.mutable_objects(4)->mutable_fd()->set_fd_id(0);
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, 4, "fd payload id 0"});
  wire = validWire();
  wire.mutable_objects(4)->mutable_fd()->set_fd_id(wire.objects(3).fd_array().fd_ids(1));
  expectRejected(wire, {absl::StatusCode::kInvalidArgument, std::nullopt, "more than once"});
}

TEST(TransactionWireHostileTest, HugeCountsHitLimits) {
  ParcelLimits limits;
  limits.max_objects = 4;
  expectRejected(validWire(), {absl::StatusCode::kResourceExhausted, std::nullopt, "objects"},
                 limits);

  limits = {};
  limits.max_fds = 2;
  expectRejected(validWire(), {absl::StatusCode::kResourceExhausted, 4, "fds"}, limits);

  WireParcel wire = validWire();
  for (int i = 0; i < 5000; ++i) {
    wire.mutable_objects(3)->mutable_fd_array()->add_fd_ids(1000 + i);
  }
  expectRejected(wire, {absl::StatusCode::kResourceExhausted, 3, "fds"});

  limits = {};
  limits.max_buffer_bytes = 24;  // A fits, B does not
  expectRejected(validWire(), {absl::StatusCode::kResourceExhausted, 2, "scatter-gather"}, limits);

  limits = {};
  limits.max_data_bytes = 16;
  expectRejected(validWire(), {absl::StatusCode::kResourceExhausted, std::nullopt, "data size"},
                 limits);
}

// Property: whatever a peer sends, fromWireParcel either rejects it without touching the mapper,
// or builds a buffer the driver's own walk accepts with the same objects.
TEST(TransactionWireHostileTest, RandomMutationsAreRejectedOrWalkClean) {
  LocalTxn txn;
  txn.raw(8);
  const size_t a = txn.ptr(std::vector<uint8_t>(48, 0x11));
  const size_t b = txn.ptr(std::vector<uint8_t>(24, 0x22), a, 0);
  txn.ptr(std::vector<uint8_t>(8, 0x33), b, 8);
  txn.fda(a, 16, {1, 2, 3});
  txn.ptr(std::vector<uint8_t>(16, 0x44), a, 32);
  txn.binder(BINDER_TYPE_WEAK_BINDER, 0x99, 4);
  txn.fd(7);
  txn.raw(4);
  FakeMapper sender;
  WireParcel base;
  ASSERT_TRUE(toWireParcel(txn.view(), sender, {}, &base).ok());

  std::mt19937_64 rng(20240611);
  auto pick = [&rng](uint64_t n) { return n == 0 ? 0 : rng() % n; };
  int accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    WireParcel wire = base;
    const int mutations = 1 + static_cast<int>(pick(3));
    for (int m = 0; m < mutations; ++m) {
      WireObject* object = wire.mutable_objects(static_cast<int>(pick(wire.objects_size())));
      switch (pick(9)) {
        case 0:
          object->set_offset(object->offset() + 4 * pick(16) - 32);
          break;
        case 1:
          if (object->has_ptr()) {
            object->mutable_ptr()->set_parent_index(static_cast<uint32_t>(pick(8)));
          } else if (object->has_fd_array()) {
            object->mutable_fd_array()->set_parent_index(static_cast<uint32_t>(pick(8)));
          }
          break;
        case 2:
          if (object->has_ptr()) {
            object->mutable_ptr()->set_parent_offset(pick(56));
          } else if (object->has_fd_array()) {
            object->mutable_fd_array()->set_parent_offset(pick(56));
          }
          break;
        case 3:
          if (object->has_ptr()) {
            object->mutable_ptr()->set_has_parent(!object->ptr().has_parent());
          }
          break;
        case 4:
          if (object->has_ptr()) {
            object->mutable_ptr()->mutable_data()->resize(pick(64), 0);
          }
          break;
        case 5:
          if (object->has_fd_array()) {
            object->mutable_fd_array()->add_fd_ids(100 + pick(4));
          }
          break;
        case 6:
          wire.mutable_data()->resize(pick(wire.data().size() + 64), 0);
          break;
        case 7:
          wire.mutable_objects()->SwapElements(static_cast<int>(pick(wire.objects_size())),
                                               static_cast<int>(pick(wire.objects_size())));
          break;
        default:
          wire.mutable_objects()->RemoveLast();
          break;
      }
      if (wire.objects_size() == 0) {
        break;
      }
    }
    FakeMapper receiver;
    absl::StatusOr<LocalBuffer> local = fromWireParcel(wire, receiver, {});
    if (!local.ok()) {
      EXPECT_EQ(receiver.calls, 0) << local.status();
      continue;
    }
    ++accepted;
    const std::vector<codec::WalkedObject> objects = walkClean(*local);
    ASSERT_EQ(objects.size(), static_cast<size_t>(wire.objects_size())) << round;
  }
  // The mutations must exercise both outcomes.
  EXPECT_GT(accepted, 100);
  EXPECT_LT(accepted, 2900);
}

// --------------------------------------------------------------------------------------------
// Mapper failures propagate, name the object, and undo what was done.

TEST(TransactionWireMapperTest, SendFailureNamesObjectAndUndoes) {
  LocalTxn txn;
  txn.raw(4);
  txn.binder(BINDER_TYPE_BINDER, 0x10, 1);
  txn.fd(5);
  const size_t failing = txn.handle(BINDER_TYPE_HANDLE, 2);
  txn.fd(6);
  FakeMapper mapper;
  mapper.fail_at = 2;
  WireParcel wire;
  const absl::Status status = toWireParcel(txn.view(), mapper, {}, &wire);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_TRUE(isMapperFailure(status));
  EXPECT_EQ(failedObjectIndex(status), failing);
  EXPECT_NE(status.message().find("local object 2 (HANDLE at offset 52)"), absl::string_view::npos)
      << status;
  EXPECT_NE(status.message().find("no such node"), absl::string_view::npos) << status;
  EXPECT_EQ(mapper.live, 0);
  EXPECT_EQ(mapper.undos, 2);
  EXPECT_EQ(mapper.calls, 3);  // nothing after the failure
}

TEST(TransactionWireMapperTest, SendFailureInsideFdArray) {
  LocalTxn txn;
  txn.raw(4);
  const size_t a = txn.ptr(std::vector<uint8_t>(16, 0));
  const size_t fda = txn.fda(a, 0, {3, 4, 5});
  FakeMapper mapper;
  mapper.fail_at = 1;
  WireParcel wire;
  const absl::Status status = toWireParcel(txn.view(), mapper, {}, &wire);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_EQ(failedObjectIndex(status), fda);
  EXPECT_NE(status.message().find("fd 1"), absl::string_view::npos) << status;
  EXPECT_EQ(mapper.live, 0);
}

TEST(TransactionWireMapperTest, SendInvalidReferenceIsInternal) {
  LocalTxn txn;
  txn.handle(BINDER_TYPE_HANDLE, 2);
  FakeMapper mapper;
  mapper.bad_ref = true;
  WireParcel wire;
  const absl::Status status = toWireParcel(txn.view(), mapper, {}, &wire);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_EQ(failedObjectIndex(status), 0u);
  EXPECT_EQ(mapper.live, 0);
}

TEST(TransactionWireMapperTest, SendRespectsPeerLimitsAndUndoes) {
  LocalTxn txn;
  txn.raw(4);
  txn.fd(1);
  txn.fd(2);
  txn.fd(3);
  FakeMapper mapper;
  ParcelLimits limits;
  limits.max_fds = 2;
  WireParcel wire;
  const absl::Status status = toWireParcel(txn.view(), mapper, limits, &wire);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_EQ(failedObjectIndex(status), 2u);
  EXPECT_FALSE(isMapperFailure(status));
  EXPECT_EQ(mapper.live, 0);
  EXPECT_EQ(mapper.undos, 2);

  limits = {};
  limits.max_data_bytes = 8;
  EXPECT_EQ(toWireParcel(txn.view(), mapper, limits, &wire).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(TransactionWireMapperTest, SendMalformedLocalBufferUndoes) {
  LocalTxn txn;
  txn.raw(4);
  txn.handle(BINDER_TYPE_HANDLE, 2);
  const size_t bad = txn.handle(BINDER_TYPE_HANDLE, 3);
  std::vector<uint8_t> data = txn.data();
  data[txn.offsets()[bad]] = 0x99;  // unknown type
  LocalBufferView view = txn.view();
  view.data = data;
  FakeMapper mapper;
  WireParcel wire;
  const absl::Status status = toWireParcel(view, mapper, {}, &wire);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(failedObjectIndex(status), bad);
  EXPECT_NE(status.message().find("unknown_type"), absl::string_view::npos) << status;
  EXPECT_EQ(mapper.live, 0);
}

TEST(TransactionWireMapperTest, SendWholeBufferErrorHasNoObjectIndex) {
  LocalTxn txn;
  txn.raw(4);
  txn.handle(BINDER_TYPE_HANDLE, 2);
  LocalBufferView view = txn.view();
  view.offsets = view.offsets.first(4);  // offsets_size % 8 != 0
  FakeMapper mapper;
  WireParcel wire;
  const absl::Status status = toWireParcel(view, mapper, {}, &wire);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(failedObjectIndex(status), std::nullopt);
  EXPECT_NE(status.message().find("offsets_size_unaligned"), absl::string_view::npos) << status;
  EXPECT_EQ(mapper.calls, 0);
}

TEST(TransactionWireMapperTest, ReceiveFailureNamesObjectAndUndoes) {
  const WireParcel wire = validWire();  // handle, A, B, FDA{5,6}, fd
  FakeMapper mapper;
  mapper.fail_at = 2;  // binder, fda fd 0, [fda fd 1]
  absl::StatusOr<LocalBuffer> local = fromWireParcel(wire, mapper, {});
  ASSERT_FALSE(local.ok());
  EXPECT_EQ(local.status().code(), absl::StatusCode::kResourceExhausted) << local.status();
  EXPECT_TRUE(isMapperFailure(local.status()));
  EXPECT_EQ(failedObjectIndex(local.status()), 3u);
  EXPECT_NE(local.status().message().find("wire object 3 (fd array at offset"),
            absl::string_view::npos)
      << local.status();
  EXPECT_NE(local.status().message().find("out of fds"), absl::string_view::npos);
  EXPECT_EQ(mapper.live, 0);
  EXPECT_EQ(mapper.undos, 2);
}

TEST(TransactionWireMapperTest, ReceiveWrongLocalTypeIsInternal) {
  const WireParcel wire = validWire();
  FakeMapper mapper;
  mapper.bad_type = true;
  absl::StatusOr<LocalBuffer> local = fromWireParcel(wire, mapper, {});
  ASSERT_FALSE(local.ok());
  EXPECT_EQ(local.status().code(), absl::StatusCode::kInternal) << local.status();
  EXPECT_EQ(failedObjectIndex(local.status()), 0u);
  EXPECT_EQ(mapper.live, 0);
}

}  // namespace
}  // namespace nb::wire
