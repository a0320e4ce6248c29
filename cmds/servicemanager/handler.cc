#include "cmds/servicemanager/handler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "codec/parcel_headers.h"
#include "spdlog/spdlog.h"

namespace nb::servicemanager {
namespace {

using runtime::ServiceManagerMethod;
using M = ServiceManagerMethod;

std::u16string toU16(std::string_view ascii) {
  std::u16string out;
  out.reserve(ascii.size());
  for (unsigned char c : ascii) {
    out.push_back(static_cast<char16_t>(c));
  }
  return out;
}

absl::Status writeException(codec::ParcelWriter& reply, int32_t code, std::string_view message) {
  return codec::writeStatus(reply, codec::AidlStatus::fromExceptionCode(code, toU16(message)));
}

absl::Status writeOk(codec::ParcelWriter& reply) {
  return codec::writeStatus(reply, codec::AidlStatus::ok());
}

absl::Status writeStringArray(codec::ParcelWriter& reply, const std::vector<std::string>& names) {
  reply.writeInt32(static_cast<int32_t>(names.size()));
  for (const auto& name : names) {
    if (absl::Status s = reply.writeString16(std::string_view(name)); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// The legacy C servicemanager answers every failure with status -1 (PERMISSION_DENIED's value).
absl::Status legacyError(std::string_view what) {
  return absl::PermissionDeniedError(absl::StrCat("servicemanager (legacy): ", std::string(what)));
}

}  // namespace

ServiceManagerHandler::ServiceManagerHandler(HandlerOptions options, ServiceManagerEnv& env)
    : options_(std::move(options)), env_(env) {}

absl::Status ServiceManagerHandler::handle(uint32_t code, codec::ParcelReader& data,
                                           codec::ParcelWriter* reply, uint32_t /*flags*/) {
  const Caller caller = env_.caller();
  std::optional<ServiceManagerMethod> method =
      runtime::serviceManagerMethodForCode(options_.layout, code);
  if (!method.has_value()) {
    spdlog::debug("unknown IServiceManager code {} (Android {}) from pid {} uid {}", code,
                  runtime::serviceManagerLayoutName(options_.layout), caller.pid, caller.uid);
    if (legacy()) {
      return legacyError(absl::StrCat("unknown code ", code));
    }
    return absl::UnimplementedError(absl::StrCat("UNKNOWN_TRANSACTION: code ", code));
  }
  absl::StatusOr<codec::InterfaceToken> token =
      codec::enforceInterface(data, runtime::kServiceManagerDescriptor,
                              runtime::serviceManagerHeaderFormat(options_.layout));
  if (!token.ok()) {
    spdlog::warn(
        "{} (code {}) from pid {} uid {}: bad interface token for the Android {} layout: {}",
        runtime::serviceManagerMethodName(*method), code, caller.pid, caller.uid,
        runtime::serviceManagerLayoutName(options_.layout), std::string(token.status().message()));
    if (legacy()) {
      return legacyError("invalid id");
    }
    return absl::DataLossError(absl::StrCat("BAD_TYPE: ", token.status().message()));
  }
  spdlog::debug("{} from pid {} uid {}", runtime::serviceManagerMethodName(*method), caller.pid,
                caller.uid);
  codec::ParcelWriter scratch;  // one-way calls: the reply is dropped
  codec::ParcelWriter& out = reply != nullptr ? *reply : scratch;
  return legacy() ? handleLegacy(*method, data, out, caller)
                  : handleAidl(*method, data, out, caller);
}

// aosp-binder.md §2.6 (service_manager.c svcmgr_handler): get/check → the object, or (not found)
// an empty reply; add → u32 0, or status -1; list(u32 index, u32 priority) → the index-th name of
// the matching services, or status -1 past the end.
absl::Status ServiceManagerHandler::handleLegacy(ServiceManagerMethod method,
                                                 codec::ParcelReader& data,
                                                 codec::ParcelWriter& reply, const Caller& caller) {
  switch (method) {
    case M::kGetService:
    case M::kCheckService: {
      absl::StatusOr<std::string> name = data.readString16AsUtf8();
      if (!name.ok()) {
        return legacyError("bad name");
      }
      BinderPtr binder = lookup(*name, method == M::kGetService);
      if (binder != nullptr) {
        env_.writeBinder(reply, binder, stability());
      }
      return absl::OkStatus();
    }
    case M::kAddService: {
      absl::StatusOr<std::string> name = data.readString16AsUtf8();
      if (!name.ok()) {
        return legacyError("bad name");
      }
      absl::StatusOr<BinderPtr> binder = env_.readBinder(data);
      if (!binder.ok()) {
        return legacyError("bad binder");
      }
      absl::StatusOr<uint32_t> allow_isolated = data.readUint32();
      absl::StatusOr<uint32_t> priority = data.readUint32();
      if (!allow_isolated.ok() || !priority.ok()) {
        return legacyError("truncated addService");
      }
      auto [ex, message] =
          addService(*name, *binder, *allow_isolated != 0, static_cast<int32_t>(*priority), caller);
      if (ex != codec::kExNone) {
        return legacyError(message);
      }
      reply.writeUint32(0);
      return absl::OkStatus();
    }
    case M::kListServices: {
      absl::StatusOr<uint32_t> index = data.readUint32();
      absl::StatusOr<uint32_t> priority = data.readUint32();
      if (!index.ok() || !priority.ok()) {
        return legacyError("truncated listServices");
      }
      std::vector<std::string> names = registry_.list(static_cast<int32_t>(*priority));
      if (*index >= names.size()) {
        return legacyError("list index past the end");
      }
      return reply.writeString16(std::string_view(names[*index]));
    }
    default:
      return legacyError("unknown code");
  }
}

absl::Status ServiceManagerHandler::handleAidl(ServiceManagerMethod method,
                                               codec::ParcelReader& data,
                                               codec::ParcelWriter& reply, const Caller& caller) {
  switch (method) {
    case M::kGetService:
    case M::kCheckService: {
      absl::StatusOr<std::string> name = data.readString16AsUtf8();
      if (!name.ok()) {
        return name.status();
      }
      BinderPtr binder = lookup(*name, method == M::kGetService);
      if (absl::Status s = writeOk(reply); !s.ok()) {
        return s;
      }
      env_.writeBinder(reply, binder, stability());
      return absl::OkStatus();
    }
    case M::kGetService2:
    case M::kCheckService2: {
      // Service union, tag 0 = ServiceWithMetadata {@nullable IBinder service; bool isLazy}.
      absl::StatusOr<std::string> name = data.readString16AsUtf8();
      if (!name.ok()) {
        return name.status();
      }
      BinderPtr binder = lookup(*name, method == M::kGetService2);
      if (absl::Status s = writeOk(reply); !s.ok()) {
        return s;
      }
      reply.writeInt32(1);  // non-null parcelable (the union)
      reply.writeInt32(0);  // tag serviceWithMetadata
      reply.writeInt32(1);  // non-null parcelable (ServiceWithMetadata)
      const size_t start = reply.dataSize();
      reply.writeInt32(0);  // size, back-patched
      env_.writeBinder(reply, binder, stability());
      reply.writeBool(false);  // isLazyService
      return reply.writeInt32At(start, static_cast<int32_t>(reply.dataSize() - start));
    }
    case M::kAddService: {
      absl::StatusOr<std::string> name = data.readString16AsUtf8();
      if (!name.ok()) {
        return name.status();
      }
      absl::StatusOr<BinderPtr> binder = env_.readBinder(data);
      if (!binder.ok()) {
        return binder.status();
      }
      absl::StatusOr<bool> allow_isolated = data.readBool();
      if (!allow_isolated.ok()) {
        return allow_isolated.status();
      }
      absl::StatusOr<int32_t> priority = data.readInt32();
      if (!priority.ok()) {
        return priority.status();
      }
      auto [ex, message] = addService(*name, *binder, *allow_isolated, *priority, caller);
      return ex == codec::kExNone ? writeOk(reply) : writeException(reply, ex, message);
    }
    case M::kListServices: {
      absl::StatusOr<int32_t> priority = data.readInt32();
      if (!priority.ok()) {
        return priority.status();
      }
      if (absl::Status s = writeOk(reply); !s.ok()) {
        return s;
      }
      return writeStringArray(reply, registry_.list(*priority));
    }
    case M::kRegisterForNotifications:
    case M::kUnregisterForNotifications: {
      const bool add = method == M::kRegisterForNotifications;
      absl::StatusOr<std::string> name = data.readString16AsUtf8();
      if (!name.ok()) {
        return name.status();
      }
      absl::StatusOr<BinderPtr> callback = env_.readBinder(data);
      if (!callback.ok()) {
        return callback.status();
      }
      if (!isValidServiceName(*name)) {
        spdlog::warn("{}: invalid service name from pid {}",
                     runtime::serviceManagerMethodName(method), caller.pid);
        return writeException(reply, codec::kExIllegalArgument, "Invalid service name");
      }
      if (*callback == nullptr) {
        return writeException(reply, codec::kExNullPointer, "Null callback");
      }
      if (!add) {
        if (!registry_.removeCallback(*name, *callback)) {
          return writeException(reply, codec::kExIllegalState,
                                "Trying to unregister callback, but none exists");
        }
        return writeOk(reply);
      }
      if (absl::Status s = env_.linkToDeath(*callback); !s.ok()) {
        spdlog::warn("registerForNotifications({}): could not link to death: {}", *name,
                     std::string(s.message()));
        return writeException(reply, codec::kExIllegalState, "Couldn't link to death");
      }
      BinderPtr existing = registry_.addCallback(*name, *callback);
      if (existing != nullptr) {
        notify(*name, existing, {*callback});
      }
      return writeOk(reply);
    }
    case M::kIsDeclared: {
      absl::StatusOr<std::string> name = data.readString16AsUtf8();
      if (!name.ok()) {
        return name.status();
      }
      if (absl::Status s = writeOk(reply); !s.ok()) {
        return s;
      }
      reply.writeBool(registry_.isDeclared(*name));
      return absl::OkStatus();
    }
    case M::kGetDeclaredInstances: {
      absl::StatusOr<std::string> iface = data.readString16AsUtf8();
      if (!iface.ok()) {
        return iface.status();
      }
      if (absl::Status s = writeOk(reply); !s.ok()) {
        return s;
      }
      return writeStringArray(reply, registry_.declaredInstances(*iface));
    }
    case M::kUpdatableViaApex: {
      if (absl::StatusOr<std::string> name = data.readString16AsUtf8(); !name.ok()) {
        return name.status();
      }
      if (absl::Status s = writeOk(reply); !s.ok()) {
        return s;
      }
      return reply.writeNullableString16(std::nullopt);  // no APEX information
    }
    case M::kGetUpdatableNames: {
      if (absl::StatusOr<std::string> apex = data.readString16AsUtf8(); !apex.ok()) {
        return apex.status();
      }
      if (absl::Status s = writeOk(reply); !s.ok()) {
        return s;
      }
      return writeStringArray(reply, {});
    }
    case M::kGetConnectionInfo: {
      if (absl::StatusOr<std::string> name = data.readString16AsUtf8(); !name.ok()) {
        return name.status();
      }
      if (absl::Status s = writeOk(reply); !s.ok()) {
        return s;
      }
      reply.writeInt32(0);  // @nullable ConnectionInfo: null
      return absl::OkStatus();
    }
    case M::kGetServiceDebugInfo: {
      if (absl::Status s = writeOk(reply); !s.ok()) {
        return s;
      }
      auto entries = registry_.entries();
      reply.writeInt32(static_cast<int32_t>(entries.size()));
      for (const auto& [name, entry] : entries) {
        reply.writeInt32(1);  // non-null parcelable
        const size_t start = reply.dataSize();
        reply.writeInt32(0);  // size, back-patched
        if (absl::Status s = reply.writeString16(std::string_view(name)); !s.ok()) {
          return s;
        }
        reply.writeInt32(static_cast<int32_t>(entry.debug_pid));
        if (absl::Status s =
                reply.writeInt32At(start, static_cast<int32_t>(reply.dataSize() - start));
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    }
    case M::kRegisterClientCallback:
    case M::kTryUnregisterService:
      return writeException(
          reply, codec::kExUnsupportedOperation,
          absl::StrCat(runtime::serviceManagerMethodName(method), " is not supported"));
  }
  return absl::UnimplementedError("UNKNOWN_TRANSACTION");
}

std::pair<int32_t, std::string> ServiceManagerHandler::addService(const std::string& name,
                                                                  const BinderPtr& binder,
                                                                  bool allow_isolated,
                                                                  int32_t dump_priority,
                                                                  const Caller& caller) {
  if (options_.allow_add.has_value() && options_.allow_add->count(caller.uid) == 0) {
    spdlog::warn("addService({}) denied: uid {} (pid {}) is not in --allow-add", name, caller.uid,
                 caller.pid);
    return {codec::kExSecurity, "UID not allowed to add services"};
  }
  if (binder == nullptr) {
    spdlog::warn("addService({}) from pid {}: null binder", name, caller.pid);
    return {codec::kExIllegalArgument, "Null binder"};
  }
  if (!isValidServiceName(name)) {
    spdlog::warn("addService from pid {}: invalid service name '{}'", caller.pid, name);
    return {codec::kExIllegalArgument, "Invalid service name"};
  }
  if (absl::Status s = env_.linkToDeath(binder); !s.ok()) {
    spdlog::warn("addService({}) from pid {}: could not link to death: {}", name, caller.pid,
                 std::string(s.message()));
    return {codec::kExIllegalState, "Couldn't linkToDeath"};
  }
  const bool replaced = registry_.find(name).has_value();
  std::vector<BinderPtr> callbacks = registry_.add(
      name, ServiceEntry{binder, allow_isolated, dump_priority, caller.pid, caller.uid});
  spdlog::info("{} service '{}' (pid {}, uid {}, priority {:#x})", replaced ? "replaced" : "added",
               name, caller.pid, caller.uid, dump_priority);
  notify(name, binder, callbacks);
  return {codec::kExNone, ""};
}

BinderPtr ServiceManagerHandler::lookup(const std::string& name, bool wait_if_declared) {
  if (std::optional<ServiceEntry> entry = registry_.find(name)) {
    return entry->binder;
  }
  if (wait_if_declared && registry_.isDeclared(name)) {
    spdlog::debug("getService({}): declared, waiting up to {} ms", name,
                  options_.declared_wait.count());
    return registry_.waitFor(name, options_.declared_wait);
  }
  return nullptr;
}

void ServiceManagerHandler::notify(const std::string& name, const BinderPtr& binder,
                                   const std::vector<BinderPtr>& callbacks) {
  for (const BinderPtr& callback : callbacks) {
    codec::ParcelWriter request;
    absl::Status s =
        codec::writeInterfaceToken(request, runtime::kServiceCallbackDescriptor,
                                   runtime::serviceManagerHeaderFormat(options_.layout));
    if (s.ok()) {
      s = request.writeString16(std::string_view(name));
    }
    if (s.ok()) {
      env_.writeBinder(request, binder, stability());
      s = env_.sendOneway(callback, runtime::kServiceCallbackOnRegistration, request);
    }
    if (!s.ok()) {
      spdlog::warn("onRegistration({}) failed: {}", name, std::string(s.message()));
    }
  }
}

void ServiceManagerHandler::binderDied(const runtime::IBinder* who) {
  for (const std::string& name : registry_.removeBinder(who)) {
    spdlog::info("service '{}' died, removed", name);
  }
}

}  // namespace nb::servicemanager
