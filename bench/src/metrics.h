#pragma once
// Figures of parley-bench: a log-linear latency histogram (HDR-style: relative error below 1.6% at any
// magnitude), the counters each event loop keeps, the JSON writer of the final line, and readers of
// /proc for the memory and CPU of the server under test.
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::bench {

// Counts of values in nanoseconds. Buckets: exact below 128, then 64 sub-buckets per power of two, up
// to 2^40 ns (18 minutes). Counts are relaxed atomics so that the sampler thread can read a histogram
// that its event loop is writing; each loop writes only its own histogram.
class Histogram {
  public:
    static constexpr std::size_t kBuckets = 128 + 34 * 64;

    void record(std::uint64_t nanoseconds) noexcept;
    // Plain copy of the counts (for merging and interval differences).
    using Counts = std::array<std::uint64_t, kBuckets>;
    void addTo(Counts& counts) const noexcept;

    static std::size_t indexOf(std::uint64_t value) noexcept;
    // The largest value that falls into bucket `index` (what a percentile reports: never optimistic).
    static std::uint64_t upperBound(std::size_t index) noexcept;

  private:
    std::array<std::atomic<std::uint64_t>, kBuckets> counts_{};
};

// Percentile (0..100) of merged counts, in nanoseconds; 0 when empty.
std::uint64_t percentile(const Histogram::Counts& counts, double percent) noexcept;
std::uint64_t totalCount(const Histogram::Counts& counts) noexcept;
std::uint64_t maxValue(const Histogram::Counts& counts) noexcept;

// What one event loop counts. Only that loop writes; the sampler reads.
struct alignas(64) LoopStats {
    std::atomic<std::uint64_t> sessions{0};    // connected and logged in now (a gauge)
    std::atomic<std::uint64_t> logins{0};      // completed logins (or registrations)
    std::atomic<std::uint64_t> sent{0};        // stanzas of the scenario sent (messages, presence changes)
    std::atomic<std::uint64_t> delivered{0};   // such stanzas received, first copy
    std::atomic<std::uint64_t> duplicated{0};  // received again
    std::atomic<std::uint64_t> reordered{0};   // received after a later one of the same sender
    std::atomic<std::uint64_t> errors{0};
    Histogram latency;       // send -> receive of the scenario's stanzas
    Histogram loginLatency;  // connect -> logged in
};

// A snapshot of all loops' counters, summed.
struct Totals {
    std::uint64_t sessions = 0, logins = 0, sent = 0, delivered = 0, duplicated = 0, reordered = 0,
                  errors = 0;
    Histogram::Counts latency{};
    Histogram::Counts loginLatency{};
};
Totals sumStats(const std::vector<const LoopStats*>& loops);

// The final line: keys in insertion order, values already JSON.
class JsonLine {
  public:
    JsonLine& add(std::string_view key, std::string_view text);  // a string, escaped
    JsonLine& add(std::string_view key, const char* text) { return add(key, std::string_view(text)); }
    JsonLine& add(std::string_view key, double value);
    JsonLine& add(std::string_view key, std::uint64_t value);
    JsonLine& add(std::string_view key, std::int64_t value);
    JsonLine& add(std::string_view key, int value) { return add(key, static_cast<std::int64_t>(value)); }
    JsonLine& add(std::string_view key, bool value);
    std::string str() const;

  private:
    std::vector<std::pair<std::string, std::string>> fields_;
};

// /proc readers; each returns 0 when the value cannot be read (no such process, not Linux).
std::uint64_t residentBytes(int pid);  // VmRSS of /proc/PID/status
// RssAnon of /proc/PID/status: the process's private heap and stacks, without the pages of its binary and
// libraries that it happens to touch (those are shared and do not grow with sessions).
std::uint64_t anonymousResidentBytes(int pid);
double cpuSeconds(int pid);            // utime + stime of /proc/PID/stat
std::uint64_t tcpSocketMemoryBytes();  // "TCP: ... mem N" of /proc/net/sockstat (pages -> bytes)
std::uint64_t ownResidentBytes();      // this process
std::uint64_t kernelSlabBytes();       // "Slab:" of /proc/meminfo (socket objects live there)

// The kernel memory charged to the TCP sockets whose local port is `port` (the server's side of the
// connections to a listener, not the generator's), from sock_diag (SK_MEMINFO: receive queue, send
// queue, forward allocation, options). Unlike /proc/net/sockstat it is not machine-wide, so other
// processes do not add noise. Empty when the kernel does not answer (no NETLINK_SOCK_DIAG).
struct SocketMemory {
    std::uint64_t sockets = 0;
    std::uint64_t bytes = 0;
};
std::optional<SocketMemory> tcpSocketMemoryOnPort(std::uint16_t port);

}  // namespace parley::bench
