// libFuzzer target: any bytes as a log file. The reader must not crash, and
// the records it hands out must lie inside the file and decode without
// reading past their payload. The seeds in fuzz/corpus/log_reader (each a
// 0x01 byte, for the header, then records the project's encoders wrote:
// one of each type; an unfilled placeholder and a record after it; a filled
// record) give the fuzzer intact checksums to start from, which it would
// not find by itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "beanstalkd/wal/format.h"
#include "beanstalkd/wal/log_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace beanstalkd::wal;
  // Half the inputs get a valid header, so the fuzzer reaches the records.
  std::string file;
  if (size > 0 && (data[0] & 1)) {
    encode_file_header({1, 1}, file);
    file.append(reinterpret_cast<const char*>(data) + 1, size - 1);
  } else {
    file.assign(reinterpret_cast<const char*>(data), size);
  }
  const std::string_view bytes = file;
  FileScan scan = scan_log_file(bytes, 0, [&](RecordType type, std::string_view payload) {
    if (payload.data() < bytes.data() ||
        payload.data() + payload.size() > bytes.data() + bytes.size())
      std::abort();
    JobRecord r;
    if (decode_record(type, payload, r)) {
      auto inside = [&](std::string_view v) {
        return v.empty() || (v.data() >= payload.data() &&
                             v.data() + v.size() <= payload.data() + payload.size());
      };
      if (!inside(r.tube) || !inside(r.body)) std::abort();
    }
  });
  if (scan.valid_end > bytes.size()) std::abort();
  for (const DamagedRange& d : scan.damage)
    if (d.offset + d.length > bytes.size()) std::abort();
  return 0;
}
