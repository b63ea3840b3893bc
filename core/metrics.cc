#include "core/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <vector>

namespace podgate::core::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) {
    throw std::logic_error("histogram bounds must ascend");
  }
}

void Histogram::observe(double value) {
  // First bucket whose upper limit holds the value; past the last: +Inf.
  auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::uint64_t Histogram::cumulative_count(std::size_t i) const {
  std::uint64_t total = 0;
  for (std::size_t b = 0; b <= i && b <= bounds_.size(); ++b) {
    total += buckets_[b].load(std::memory_order_relaxed);
  }
  return total;
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                          0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                          1,      2.5,     5,      10};
  return bounds;
}

Registry::Series& Registry::find_or_add(const std::string& name, const std::string& help,
                                        const std::string& labels, Kind kind,
                                        const std::vector<double>* bounds) {
  std::lock_guard lock(mutex_);
  for (auto& series : series_) {
    if (series.name == name && series.labels == labels) {
      if (series.kind != kind) throw std::logic_error("metric " + name + " registered twice");
      return series;
    }
  }
  // Made first: bounds that do not ascend throw before anything is added.
  auto histogram = bounds ? std::make_unique<Histogram>(*bounds) : nullptr;
  Series& added = series_.emplace_back();
  added.name = name;
  added.help = help;
  added.labels = labels;
  added.kind = kind;
  added.histogram = std::move(histogram);
  return added;
}

Counter& Registry::counter(const std::string& name, const std::string& help,
                           const std::string& labels) {
  return find_or_add(name, help, labels, Kind::Counter).counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help,
                       const std::string& labels) {
  return find_or_add(name, help, labels, Kind::Gauge).gauge;
}

void Registry::gauge_callback(const std::string& name, const std::string& help,
                              const std::string& labels, std::function<double()> read) {
  Series& series = find_or_add(name, help, labels, Kind::GaugeCallback);
  std::lock_guard lock(mutex_);
  series.read = std::move(read);
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const std::string& labels, const std::vector<double>& bounds) {
  return *find_or_add(name, help, labels, Kind::Histogram, &bounds).histogram;
}

namespace {
const char* type_name(bool counter, bool histogram) {
  return counter ? " counter\n" : histogram ? " histogram\n" : " gauge\n";
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  char text[64];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}
}  // namespace

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  // Families in order of first registration, series in order within them.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Series*>> families;
  for (const auto& series : series_) {
    auto& members = families[series.name];
    if (members.empty()) order.push_back(series.name);
    members.push_back(&series);
  }
  std::string out;
  for (const auto& name : order) {
    const auto& members = families[name];
    const Series& first = *members.front();
    out += "# HELP " + name + " " + first.help + "\n";
    out += "# TYPE " + name + type_name(first.kind == Kind::Counter, first.kind == Kind::Histogram);
    for (const Series* series : members) {
      if (series->kind == Kind::Histogram) {
        render_histogram(*series, out);
        continue;
      }
      out += name;
      if (!series->labels.empty()) out += "{" + series->labels + "}";
      out += " ";
      switch (series->kind) {
        case Kind::Counter:
          out += std::to_string(series->counter.value());
          break;
        case Kind::Gauge:
          out += std::to_string(series->gauge.value());
          break;
        case Kind::GaugeCallback:
          out += format_value(series->read ? series->read() : 0.0);
          break;
        case Kind::Histogram:
          break;
      }
      out += "\n";
    }
  }
  return out;
}

void Registry::render_histogram(const Series& series, std::string& out) const {
  const Histogram& histogram = *series.histogram;
  std::string prefix = series.labels.empty() ? "" : series.labels + ",";
  auto bucket_line = [&](const std::string& le, std::uint64_t count) {
    out += series.name + "_bucket{" + prefix + "le=\"" + le + "\"} " + std::to_string(count) + "\n";
  };
  for (std::size_t i = 0; i < histogram.bounds().size(); ++i) {
    bucket_line(format_value(histogram.bounds()[i]), histogram.cumulative_count(i));
  }
  // Read once: observations may land while we render, and +Inf must equal _count.
  std::uint64_t count = histogram.cumulative_count(histogram.bounds().size());
  bucket_line("+Inf", count);
  std::string braces = series.labels.empty() ? "" : "{" + series.labels + "}";
  out += series.name + "_sum" + braces + " " + format_value(histogram.sum()) + "\n";
  out += series.name + "_count" + braces + " " + std::to_string(count) + "\n";
}

std::string label(const std::string& name, const std::string& value) {
  std::string out = name + "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace podgate::core::metrics
