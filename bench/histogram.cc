#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace bench {
namespace {
constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << 6;
}  // namespace

// Values below 2 * kSubBuckets map to themselves. Above, a value whose highest set bit is b keeps
// its top kSubBucketBits + 1 bits: shift = b - kSubBucketBits, and the bucket is
// shift * kSubBuckets + (value >> shift), which continues the exact range without gaps.
int Histogram::bucket_of(std::uint64_t value) {
  if (value < kSubBuckets) return static_cast<int>(value);
  const int shift = static_cast<int>(std::bit_width(value)) - 1 - kSubBucketBits;
  return static_cast<int>(static_cast<std::uint64_t>(shift) * kSubBuckets + (value >> shift));
}

std::uint64_t Histogram::bucket_low(int bucket) {
  const auto index = static_cast<std::uint64_t>(bucket);
  if (index < 2 * kSubBuckets) return index;
  const std::uint64_t shift = index / kSubBuckets - 1;
  return (index - shift * kSubBuckets) << shift;
}

std::uint64_t Histogram::bucket_width(int bucket) {
  const auto index = static_cast<std::uint64_t>(bucket);
  if (index < 2 * kSubBuckets) return 1;
  return std::uint64_t{1} << (index / kSubBuckets - 1);
}

void Histogram::record(std::int64_t value_ns) {
  // A negative latency can only come from a clock step; count it as zero rather than lose it.
  const std::int64_t value = std::max<std::int64_t>(value_ns, 0);
  ++counts_[static_cast<std::size_t>(bucket_of(static_cast<std::uint64_t>(value)))];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<double>(value);
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double Histogram::mean() const {
  return count_ == 0 ? 0 : sum_ / static_cast<double>(count_);
}

std::int64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  // The rank of the wanted sample, 1-based: q = 0.5 of 10 samples is the 5th.
  const auto rank = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil(q * static_cast<double>(count_))));
  std::int64_t seen = 0;
  for (int bucket = 0; bucket < kBuckets; ++bucket) {
    seen += counts_[static_cast<std::size_t>(bucket)];
    if (seen >= rank) {
      const auto middle =
          static_cast<std::int64_t>(bucket_low(bucket) + (bucket_width(bucket) - 1) / 2);
      return std::clamp(middle, min_, max_);
    }
  }
  return max_;
}

}  // namespace bench
