// IServiceManager transaction codes and parcel headers per Android release
// (../shared/reference/aosp-binder.md §2.5, §2.6). Methods were inserted in the middle of the
// AIDL interface between releases, so the code of a method depends on the release the peer was
// built from: this table is the single source for the runtime's client and the servicemanager.
//
//   layout        codes                                    token (codec/parcel_headers.h)
//   kAndroid10    legacy C servicemanager: GET=1 CHECK=2   kAndroid10 (policy, work source)
//                 ADD=3 LIST=4; replies have no Status
//   kAndroid11    AIDL, 9 methods                          kAndroid11Plus, 'SYST'
//   kAndroid12    AIDL, 12 methods                         kAndroid11Plus, 'SYST'
//   kAndroid13    AIDL, 13 methods                         kAndroid11Plus, 'SYST'
//   kAndroid14    AIDL, 14 methods (also 15 r1–r5)         kAndroid11Plus, 'SYST'
//   kAndroid15    AIDL, 15 methods (15 r6+: getService2)   kAndroid11Plus, 'SYST'
//   kAndroid16    AIDL, 16 methods (checkService2)         kAndroid11Plus, 'SYST'
//
// Pure data and lookups; no state.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "codec/parcel_headers.h"

namespace nb::runtime {

inline constexpr char16_t kServiceManagerDescriptor[] = u"android.os.IServiceManager";
inline constexpr char16_t kServiceCallbackDescriptor[] = u"android.os.IServiceCallback";
// IServiceCallback.onRegistration(String name, IBinder binder), oneway.
inline constexpr uint32_t kServiceCallbackOnRegistration = 1;

// IServiceManager dump priorities (DUMP_FLAG_PRIORITY_*).
inline constexpr int32_t kDumpFlagPriorityCritical = 1 << 0;
inline constexpr int32_t kDumpFlagPriorityHigh = 1 << 1;
inline constexpr int32_t kDumpFlagPriorityNormal = 1 << 2;
inline constexpr int32_t kDumpFlagPriorityDefault = 1 << 3;
inline constexpr int32_t kDumpFlagPriorityAll = 15;
inline constexpr int32_t kDumpFlagProto = 1 << 4;

enum class ServiceManagerLayout : uint8_t {
  kAndroid10,
  kAndroid11,
  kAndroid12,
  kAndroid13,
  kAndroid14,
  kAndroid15,
  kAndroid16,
};
inline constexpr ServiceManagerLayout kNewestServiceManagerLayout =
    ServiceManagerLayout::kAndroid16;

enum class ServiceManagerMethod : uint8_t {
  kGetService,
  kGetService2,
  kCheckService,
  kCheckService2,
  kAddService,
  kListServices,
  kRegisterForNotifications,
  kUnregisterForNotifications,
  kIsDeclared,
  kGetDeclaredInstances,
  kUpdatableViaApex,
  kGetUpdatableNames,
  kGetConnectionInfo,
  kRegisterClientCallback,
  kTryUnregisterService,
  kGetServiceDebugInfo,
};

const char* serviceManagerMethodName(ServiceManagerMethod method);

// "10", "11", …, "16" (the Android release); "14" also covers 15 r1–r5, "15" means 15 r6+.
std::string_view serviceManagerLayoutName(ServiceManagerLayout layout);
// Accepts the names above, "android14" etc., "legacy" (= 10) and "newest"/"" (= 16).
absl::StatusOr<ServiceManagerLayout> parseServiceManagerLayout(std::string_view name);

// True for kAndroid10: the numeric protocol of the C servicemanager (no AIDL Status in replies,
// listServices by index).
bool isLegacyServiceManager(ServiceManagerLayout layout);

// The methods of `layout` in code order: code = index + 1 (FIRST_CALL_TRANSACTION).
std::span<const ServiceManagerMethod> serviceManagerMethods(ServiceManagerLayout layout);
// The code of `method` in `layout`; nullopt when that release does not have the method.
std::optional<uint32_t> serviceManagerCode(ServiceManagerLayout layout,
                                           ServiceManagerMethod method);
// The method `code` means in `layout`; nullopt when it means nothing.
std::optional<ServiceManagerMethod> serviceManagerMethodForCode(ServiceManagerLayout layout,
                                                                uint32_t code);

// The interface-token format a release's libbinder writes ('SYST' marker for 11+).
codec::InterfaceHeaderFormat serviceManagerHeaderFormat(ServiceManagerLayout layout);

// The stability word written after binder objects for a release: the SYSTEM level, except
// Android 12, which wrote a packed Category {wireFormatVersion 1, reserved[2], level}.
int32_t binderStabilityFor(ServiceManagerLayout layout);

}  // namespace nb::runtime
