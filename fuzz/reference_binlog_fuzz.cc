// libFuzzer target: any bytes as the reference server's binlog files. The
// importer must not crash, and what it hands out must be consistent: jobs
// sorted by unique nonzero id, none above max_id, valid tube names, bodies
// no larger than the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "beanstalkd/wal/reference_import.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace beanstalkd::wal;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Half the inputs get the right version, so the fuzzer reaches the
  // records; a "\n--\n" splits the input into consecutive files.
  const bool with_version = size > 0 && (data[0] & 1);
  if (size > 0) input.remove_prefix(1);
  ReferenceBinlogReplay replay;
  int index = 1;
  for (;;) {
    const std::size_t split = input.find("\n--\n");
    std::string file;
    if (with_version) {
      const std::int32_t version = kReferenceBinlogVersion;
      file.append(reinterpret_cast<const char*>(&version), sizeof version);
    }
    file.append(input.substr(0, split));
    replay.add_file("binlog." + std::to_string(index++), file);
    if (split == std::string_view::npos) break;
    input.remove_prefix(split + 4);
  }
  ReferenceImport out;
  replay.finish(out);
  std::uint64_t previous = 0;
  for (const RecoveredJob& job : out.jobs) {
    if (job.id == 0 || job.id <= previous || job.id > out.max_id) std::abort();
    previous = job.id;
    if (job.tube.empty() || job.tube.size() > kReferenceMaxTubeName) std::abort();
    if (job.body.size() > size) std::abort();
    if (job.ttr_seconds == 0) std::abort();
  }
  return 0;
}
