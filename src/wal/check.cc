#include "beanstalkd/wal/check.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "beanstalkd/wal/file_sequence.h"
#include "beanstalkd/wal/file_system.h"
#include "beanstalkd/wal/log_reader.h"
#include "beanstalkd/wal/reference_import.h"
#include "beanstalkd/wal/wal.h"

namespace beanstalkd::wal {

int check_wal_directory(const std::string& dir, std::ostream& out) {
  PosixFileSystem fs;
  std::vector<std::string> names;
  if (int rc = fs.list_dir(dir, names); rc != 0) {
    out << "cannot read " << dir << ": " << std::strerror(rc) << "\n";
    return 2;
  }
  const auto [indexes, set_aside] = log_file_indexes(names);

  bool damaged = false;
  std::uint64_t total_records = 0;
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, JobState> jobs;
  std::uint32_t oldest_needed = 0;  // as the newest intact header says
  std::string bytes;
  for (std::size_t i = 0; i < indexes.size(); ++i) {
    const std::string path = dir + "/" + Wal::file_name(indexes[i]);
    if (int rc = fs.read_file(path, bytes); rc != 0) {
      out << path << ": cannot read: " << std::strerror(rc) << "\n";
      damaged = true;
      continue;
    }
    std::uint64_t malformed = 0;
    FileScan scan =
        scan_log_file(bytes, indexes[i], [&](RecordType type, std::string_view payload) {
          JobRecord r;
          if (!decode_record(type, payload, r)) {
            ++malformed;
            return;
          }
          next_id = std::max(next_id, r.id + 1);
          if (type == RecordType::JobDelete) {
            jobs.erase(r.id);
          } else if (type == RecordType::JobFull || jobs.count(r.id)) {
            jobs[r.id] = r.state == JobState::Reserved ? JobState::Ready : r.state;
          }
        });
    if (!scan.header_ok) {
      out << path << ": " << scan.header_error << "\n";
      damaged = true;
      continue;
    }
    next_id = std::max(next_id, scan.header.next_job_id);
    oldest_needed = scan.header.oldest_needed;
    total_records += scan.records;
    out << path << ": " << scan.records << " records, " << scan.valid_end << " bytes used\n";
    if (scan.placeholders > 0)
      out << "  interrupted: " << scan.placeholders
          << " large records a stop kept from being written (skipped; their puts were not "
             "answered)\n";
    for (const DamagedRange& d : scan.damage) {
      out << "  damaged: " << d.length << " bytes at offset " << d.offset << "\n";
      damaged = true;
    }
    if (malformed > 0) {
      out << "  malformed: " << malformed << " records with a good checksum but bad contents\n";
      damaged = true;
    }
    if (scan.torn_tail) {
      bool newest = i + 1 == indexes.size();
      out << "  " << (newest ? "torn last record (recovery cuts it off)" : "unreadable end") << ": "
          << scan.torn_bytes << " bytes at offset " << scan.valid_end << "\n";
      if (!newest) damaged = true;
    }
  }
  for (const MissingFiles& m : missing_log_files(indexes, set_aside, oldest_needed)) {
    out << "missing: " << Wal::file_name(m.first) << " to " << Wal::file_name(m.last) << "\n";
    damaged = true;
  }
  std::uint64_t by_state[4] = {};
  for (const auto& [id, state] : jobs) ++by_state[static_cast<int>(state)];
  out << indexes.size() << " files, " << total_records << " records; would recover " << jobs.size()
      << " jobs (" << by_state[static_cast<int>(JobState::Ready)] << " ready, "
      << by_state[static_cast<int>(JobState::Delayed)] << " delayed, "
      << by_state[static_cast<int>(JobState::Buried)] << " buried); next job id " << next_id
      << "\n";
  if (has_reference_binlog(dir)) {
    ReferenceImport reference = import_reference_binlog(dir);
    out << "reference binlog: " << reference.files.size() << " files, " << reference.jobs.size()
        << " jobs to import\n";
    for (const std::string& problem : reference.problems) out << "  " << problem << "\n";
  }
  out << (damaged ? "DAMAGED" : "OK") << "\n";
  return damaged ? 1 : 0;
}

}  // namespace beanstalkd::wal
