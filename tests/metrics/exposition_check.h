// A checker for the Prometheus text exposition format 0.0.4, strict enough
// to catch what a scraper would reject or misread: every line is a HELP,
// TYPE or comment line, or a sample with a valid name, labels and value;
// a family's TYPE comes once, before its samples, and its samples are
// contiguous; histograms have cumulative buckets ending in le="+Inf" equal
// to _count. Returns one message per problem (empty: the text is valid).
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace metrics_test {

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped values
  double value = 0;
};

inline bool is_metric_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

inline bool is_label_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

inline std::optional<double> parse_value(std::string_view s) {
  if (s == "+Inf" || s == "Inf") return HUGE_VAL;
  if (s == "-Inf") return -HUGE_VAL;
  if (s == "NaN") return std::nan("");
  if (s.empty()) return std::nullopt;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
      return std::nullopt;
  }
  std::string copy(s);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || errno != 0) return std::nullopt;
  return v;
}

// Parses one sample line; false with `error` when it is malformed.
inline bool parse_sample(std::string_view line, Sample& out, std::string& error) {
  std::size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  out.name = std::string(line.substr(0, i));
  if (!is_metric_name(out.name)) {
    error = "bad metric name";
    return false;
  }
  out.labels.clear();
  if (i < line.size() && line[i] == '{') {
    ++i;
    std::set<std::string> seen;
    while (true) {
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      std::size_t eq = line.find('=', i);
      if (eq == std::string_view::npos) {
        error = "label without '='";
        return false;
      }
      std::string label(line.substr(i, eq - i));
      if (!is_label_name(label)) {
        error = "bad label name '" + label + "'";
        return false;
      }
      if (!seen.insert(label).second) {
        error = "repeated label " + label;
        return false;
      }
      i = eq + 1;
      if (i >= line.size() || line[i] != '"') {
        error = "label value not quoted";
        return false;
      }
      ++i;
      std::string value;
      bool closed = false;
      while (i < line.size()) {
        const char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\n') {
          error = "raw newline in a label value";
          return false;
        }
        if (c == '\\') {
          if (i >= line.size()) break;
          const char e = line[i++];
          if (e == '\\')
            value += '\\';
          else if (e == '"')
            value += '"';
          else if (e == 'n')
            value += '\n';
          else {
            error = std::string("bad escape \\") + e + " in a label value";
            return false;
          }
        } else {
          value += c;
        }
      }
      if (!closed) {
        error = "unterminated label value";
        return false;
      }
      out.labels.emplace_back(label, value);
      if (i < line.size() && line[i] == ',') {
        ++i;
      } else if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      } else {
        error = "expected ',' or '}' after a label";
        return false;
      }
    }
  }
  if (i >= line.size() || line[i] != ' ') {
    error = "expected a space before the value";
    return false;
  }
  ++i;
  std::string_view rest = line.substr(i);
  std::string_view value = rest.substr(0, rest.find(' '));
  auto v = parse_value(value);
  if (!v) {
    error = "bad value '" + std::string(value) + "'";
    return false;
  }
  out.value = *v;
  if (value.size() < rest.size()) {  // a timestamp: an integer in milliseconds
    std::string_view ts = rest.substr(value.size() + 1);
    std::size_t k = ts.size() > 0 && ts[0] == '-' ? 1 : 0;
    if (k == ts.size()) {
      error = "bad timestamp";
      return false;
    }
    for (; k < ts.size(); ++k) {
      if (ts[k] < '0' || ts[k] > '9') {
        error = "bad timestamp";
        return false;
      }
    }
  }
  return true;
}

// The family a sample belongs to, given the declared types.
inline std::string family_of(const std::string& name,
                             const std::map<std::string, std::string>& types) {
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      std::string base = name.substr(0, name.size() - suffix.size());
      auto it = types.find(base);
      if (it != types.end() && (it->second == "histogram" || it->second == "summary")) return base;
    }
  }
  return name;
}

inline std::vector<std::string> check_exposition(std::string_view text,
                                                 std::vector<Sample>* samples_out = nullptr) {
  std::vector<std::string> errors;
  std::map<std::string, std::string> types;
  std::set<std::string> helped, finished, sampled;
  std::string current_family;
  std::vector<Sample> samples;
  if (!text.empty() && text.back() != '\n') errors.push_back("the text does not end in a newline");
  std::size_t line_no = 0;
  std::size_t pos = 0;
  auto fail = [&](const std::string& what, std::string_view line) {
    errors.push_back("line " + std::to_string(line_no) + ": " + what + ": " + std::string(line));
  };
  auto enter_family = [&](const std::string& family, std::string_view line) {
    if (family == current_family) return;
    if (finished.count(family)) fail("family " + family + " is not contiguous", line);
    if (!current_family.empty()) finished.insert(current_family);
    current_family = family;
  };
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty()) {
      fail("empty line", line);
      continue;
    }
    if (line[0] == '#') {
      if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
        std::string_view rest = line.substr(7);
        std::size_t sp = rest.find(' ');
        std::string name(rest.substr(0, sp));
        if (!is_metric_name(name)) {
          fail("bad metric name in a comment", line);
          continue;
        }
        std::string_view arg = sp == std::string_view::npos ? "" : rest.substr(sp + 1);
        if (line[2] == 'H') {
          if (!helped.insert(name).second) fail("second HELP for " + name, line);
          for (std::size_t k = 0; k < arg.size(); ++k) {
            if (arg[k] == '\\' &&
                (k + 1 >= arg.size() || (arg[k + 1] != '\\' && arg[k + 1] != 'n')))
              fail("bad escape in HELP", line);
            if (arg[k] == '\\') ++k;
          }
        } else {
          if (types.count(name)) fail("second TYPE for " + name, line);
          if (sampled.count(name)) fail("TYPE after samples of " + name, line);
          if (arg != "counter" && arg != "gauge" && arg != "histogram" && arg != "summary" &&
              arg != "untyped")
            fail("bad type", line);
          types[name] = std::string(arg);
        }
        enter_family(name, line);
      }
      continue;
    }
    Sample s;
    std::string error;
    if (!parse_sample(line, s, error)) {
      fail(error, line);
      continue;
    }
    const std::string family = family_of(s.name, types);
    enter_family(family, line);
    sampled.insert(family);
    auto type = types.find(family);
    if (type != types.end() && type->second == "histogram") {
      bool has_le = false;
      for (const auto& [k, v] : s.labels) has_le |= k == "le";
      if (s.name.ends_with("_bucket") != has_le) fail("le on a non-bucket or missing", line);
    }
    samples.push_back(std::move(s));
  }

  // Histograms: per family and label set (without le), cumulative buckets
  // ending in +Inf, equal to _count.
  struct Series {
    std::vector<std::pair<double, double>> buckets;  // le, value
    std::optional<double> count;
    bool sum = false;
  };
  std::map<std::string, Series> series;
  for (const Sample& s : samples) {
    const std::string family = family_of(s.name, types);
    auto type = types.find(family);
    if (type == types.end() || type->second != "histogram") continue;
    std::string key = family + "{";
    double le = 0;
    for (const auto& [k, v] : s.labels) {
      if (k == "le") {
        le = parse_value(v).value_or(std::nan(""));
      } else {
        key += k + "=" + v + ",";
      }
    }
    Series& h = series[key];
    if (s.name.ends_with("_bucket"))
      h.buckets.emplace_back(le, s.value);
    else if (s.name.ends_with("_count"))
      h.count = s.value;
    else if (s.name.ends_with("_sum"))
      h.sum = true;
  }
  for (const auto& [key, h] : series) {
    if (h.buckets.empty() || !std::isinf(h.buckets.back().first)) {
      errors.push_back(key + ": the last bucket is not le=\"+Inf\"");
      continue;
    }
    for (std::size_t k = 1; k < h.buckets.size(); ++k) {
      if (!(h.buckets[k].first > h.buckets[k - 1].first))
        errors.push_back(key + ": le not increasing");
      if (h.buckets[k].second < h.buckets[k - 1].second)
        errors.push_back(key + ": buckets not cumulative");
    }
    if (!h.count || *h.count != h.buckets.back().second)
      errors.push_back(key + ": _count missing or not equal to the +Inf bucket");
    if (!h.sum) errors.push_back(key + ": _sum missing");
  }
  for (const auto& [name, type] : types) {
    if (!helped.count(name)) errors.push_back(name + ": TYPE without HELP");
    if (!sampled.count(name)) errors.push_back(name + ": no samples");
  }
  for (const std::string& name : sampled) {
    if (!types.count(name)) errors.push_back(name + ": samples without TYPE");
  }
  if (samples_out) *samples_out = std::move(samples);
  return errors;
}

}  // namespace metrics_test
