// binderctl: a command-line Binder client modelled on Android's `service` tool
// (../shared/reference/aosp-binder.md §2.7), on the kernel driver or binderd, extended for
// debugging (typed reply decoding, ping timing, driver state dumps).
//
//   binderctl [common flags] [--oneway] [--reply TYPES] COMMAND ...
//     list                         Found N services: / i<TAB>name: [descriptor]
//     check NAME                   Service NAME: found|not found
//     call NAME CODE [ARG]...      token (the service's descriptor) + ARGs, transact, print the
//                                  reply as `service` does (hex dump) and decoded (AIDL Status,
//                                  then --reply's types)
//     ping NAME                    PING transaction, prints the round-trip time
//     state|stats|transactions     the driver's debugfs-format dump (binderd admin protocol, or
//                                  /sys/kernel/debug/binder/* on the kernel driver)
//   ARG:   i32 N | i64 N | f N | d N | bool true|false | s16 STR | s8 STR | null |
//          fd PATH | binder NAME
//   TYPES: comma-separated i32,i64,f,d,bool,s16,s8,binder,fd
//   CODE:  a number (decimal or 0x hex) or a four-character system code such as _PNG / _NTF
//
// Exit codes (as `service`): 0 ok, 10 usage or bad argument, 20 no service manager (or no
// device), 1 anything else (no such service, dead object, failed reply, AIDL exception, reply
// not matching --reply, dump failure). Every error is one line on stderr.
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace nb::binderctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 10;
inline constexpr int kExitNoServiceManager = 20;

// The `service` tool's rendering of a parcel's bytes (libbinder HexDump): 32-bit little-endian
// words as %08x, then the bytes as ASCII ('.' for unprintable) in quotes; up to 16 bytes on one
// line, longer data as "0x%08x: " lines of 16 bytes. "NULL" for no data.
std::string hexDump(std::span<const uint8_t> data);

enum class ValueType : uint8_t { kI32, kI64, kF, kD, kBool, kS16, kS8, kBinder, kFd };
const char* valueTypeName(ValueType type);
// "i32,s16" → {kI32, kS16}. InvalidArgument for an unknown or empty type.
absl::StatusOr<std::vector<ValueType>> parseReplySpec(std::string_view spec);
// A transaction code: decimal, 0x hex, or a four-character name packed as B_PACK_CHARS.
absl::StatusOr<uint32_t> parseCode(std::string_view text);

// Runs one command line (argv[1..]); writes results to `out`, the error line to `err`; returns
// the exit code.
int run(std::vector<std::string> args, std::ostream& out, std::ostream& err);

}  // namespace nb::binderctl
