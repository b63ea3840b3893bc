// Counters, gauges and histograms exported in the Prometheus text format (/metrics).
// Registration happens at start-up or on first use and returns a reference
// that stays valid for the registry's life; updates are lock-free atomics, so
// any thread may count. Families (one name, several label sets) are written
// with one HELP/TYPE header each.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace podgate::core::metrics {

class Counter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) { value_.fetch_sub(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Observations counted into fixed buckets: `bounds` are the buckets' upper
// limits, ascending, in the metric's unit (+Inf is implicit). Lock-free like
// the counters, so every worker thread observes without waiting.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  // Observations up to and including bounds()[i] (cumulative, as
  // Prometheus wants); i == bounds().size() is +Inf, i.e. count().
  std::uint64_t cumulative_count(std::size_t i) const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // not cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Bucket limits for latencies in seconds: 100 us to 10 s, a login hop's
// whole range from a cached loopback login to a pod that is timing out.
const std::vector<double>& latency_buckets();

// `labels` is the inside of the braces, already formatted with
// label(): `pod="pod-1",protocol="imap"`; "" for none.
class Registry {
 public:
  Counter& counter(const std::string& name, const std::string& help,
                   const std::string& labels = "");
  Gauge& gauge(const std::string& name, const std::string& help, const std::string& labels = "");
  // A gauge read when /metrics is rendered (sizes of tables, open sockets).
  void gauge_callback(const std::string& name, const std::string& help, const std::string& labels,
                      std::function<double()> read);
  Histogram& histogram(const std::string& name, const std::string& help, const std::string& labels,
                       const std::vector<double>& bounds = latency_buckets());
  std::string render() const;

 private:
  enum class Kind { Counter, Gauge, GaugeCallback, Histogram };
  struct Series {
    std::string name, help, labels;
    Kind kind;
    Counter counter;
    Gauge gauge;
    std::function<double()> read;
    std::unique_ptr<Histogram> histogram;
  };
  void render_histogram(const Series& series, std::string& out) const;
  // `bounds`: a new histogram series is made with them under the same lock,
  // so render() never sees a histogram series without its histogram.
  Series& find_or_add(const std::string& name, const std::string& help, const std::string& labels,
                      Kind kind, const std::vector<double>* bounds = nullptr);

  mutable std::mutex mutex_;
  std::deque<Series> series_;  // deque: references stay valid as it grows
};

// One `name="value"` pair with the value escaped for the exposition format.
std::string label(const std::string& name, const std::string& value);

}  // namespace podgate::core::metrics
