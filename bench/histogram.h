#pragma once

#include <array>
#include <cstdint>

namespace bench {

// Latency histogram with log-linear buckets: values below 128 ns are exact, larger ones fall
// into buckets 1/64 of their power of two wide, so every quantile is within 1% of the truth.
// Fixed size (about 30 KiB), so recording never allocates and runs of any length fit.
class Histogram {
 public:
  void record(std::int64_t value_ns);
  void merge(const Histogram& other);

  std::int64_t count() const { return count_; }
  std::int64_t min() const { return count_ == 0 ? 0 : min_; }
  std::int64_t max() const { return max_; }
  double mean() const;
  // The value at quantile q (0 to 1): the middle of the bucket holding it, clamped to the exact
  // minimum and maximum. 0 when empty.
  std::int64_t quantile(double q) const;

 private:
  static constexpr int kSubBucketBits = 6;
  static constexpr int kBuckets = (64 - kSubBucketBits) << kSubBucketBits;

  static int bucket_of(std::uint64_t value);
  static std::uint64_t bucket_low(int bucket);
  static std::uint64_t bucket_width(int bucket);

  std::array<std::int64_t, kBuckets> counts_{};
  std::int64_t count_ = 0;
  std::int64_t min_ = INT64_MAX;
  std::int64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace bench
