#include "core/metrics.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <vector>

namespace podgate::core::metrics {

Registry::Series& Registry::find_or_add(const std::string& name, const std::string& help,
                                        const std::string& labels, Kind kind) {
  std::lock_guard lock(mutex_);
  for (auto& series : series_) {
    if (series.name == name && series.labels == labels) {
      if (series.kind != kind) throw std::logic_error("metric " + name + " registered twice");
      return series;
    }
  }
  Series& added = series_.emplace_back();
  added.name = name;
  added.help = help;
  added.labels = labels;
  added.kind = kind;
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

namespace {
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
    out += "# TYPE " + name + (first.kind == Kind::Counter ? " counter\n" : " gauge\n");
    for (const Series* series : members) {
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
      }
      out += "\n";
    }
  }
  return out;
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
