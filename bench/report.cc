#include "bench/report.h"

#include <sys/utsname.h>

#include <algorithm>
#include <ctime>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace nb::bench {

double median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string sizeName(size_t size) {
  if (size >= 1024 * 1024 && size % (1024 * 1024) == 0) {
    return absl::StrCat(size / (1024 * 1024), " MiB");
  }
  if (size >= 1024 && size % 1024 == 0) {
    return absl::StrCat(size / 1024, " KiB");
  }
  return absl::StrCat(size, " B");
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", static_cast<int>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string readFirstLine(const std::string& path, const std::string& prefix) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (prefix.empty() || line.rfind(prefix, 0) == 0) {
      return line;
    }
  }
  return "";
}

std::string cpuModel() {
  std::string line = readFirstLine("/proc/cpuinfo", "model name");
  const size_t colon = line.find(':');
  return colon == std::string::npos ? "unknown" : line.substr(colon + 2);
}

std::string kernelRelease() {
  utsname u{};
  ::uname(&u);
  return u.release;
}

std::string loadAvg() { return readFirstLine("/proc/loadavg", ""); }

std::string nowUtc() {
  char buf[64];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

}  // namespace nb::bench
