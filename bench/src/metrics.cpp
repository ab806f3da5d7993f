#include "metrics.h"

#include "parley/base/json.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

namespace parley::bench {

std::size_t Histogram::indexOf(std::uint64_t value) noexcept {
    if (value < 128) {
        return static_cast<std::size_t>(value);
    }
    const int msb = 63 - std::countl_zero(value);  // >= 7
    const int shift = msb - 6;                     // value >> shift is in [64, 128)
    const std::size_t index =
        128 + static_cast<std::size_t>(shift - 1) * 64 + static_cast<std::size_t>((value >> shift) - 64);
    return index < kBuckets ? index : kBuckets - 1;
}

std::uint64_t Histogram::upperBound(std::size_t index) noexcept {
    if (index < 128) {
        return index;
    }
    const std::size_t shift = (index - 128) / 64 + 1;
    const std::uint64_t mantissa = (index - 128) % 64 + 64;
    return ((mantissa + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t nanoseconds) noexcept {
    counts_[indexOf(nanoseconds)].fetch_add(1, std::memory_order_relaxed);
}

void Histogram::addTo(Counts& counts) const noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i) {
        counts[i] += counts_[i].load(std::memory_order_relaxed);
    }
}

std::uint64_t totalCount(const Histogram::Counts& counts) noexcept {
    std::uint64_t total = 0;
    for (std::uint64_t c : counts) {
        total += c;
    }
    return total;
}

std::uint64_t percentile(const Histogram::Counts& counts, double percent) noexcept {
    const std::uint64_t total = totalCount(counts);
    if (total == 0) {
        return 0;
    }
    // The smallest value with at least `percent` of the samples at or below it.
    auto rank = static_cast<std::uint64_t>(percent / 100.0 * static_cast<double>(total) + 0.5);
    if (rank < 1) {
        rank = 1;
    }
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        seen += counts[i];
        if (seen >= rank) {
            return Histogram::upperBound(i);
        }
    }
    return Histogram::upperBound(counts.size() - 1);
}

std::uint64_t maxValue(const Histogram::Counts& counts) noexcept {
    for (std::size_t i = counts.size(); i-- > 0;) {
        if (counts[i] != 0) {
            return Histogram::upperBound(i);
        }
    }
    return 0;
}

Totals sumStats(const std::vector<const LoopStats*>& loops) {
    Totals t;
    for (const LoopStats* s : loops) {
        t.sessions += s->sessions.load(std::memory_order_relaxed);
        t.logins += s->logins.load(std::memory_order_relaxed);
        t.sent += s->sent.load(std::memory_order_relaxed);
        t.delivered += s->delivered.load(std::memory_order_relaxed);
        t.duplicated += s->duplicated.load(std::memory_order_relaxed);
        t.reordered += s->reordered.load(std::memory_order_relaxed);
        t.errors += s->errors.load(std::memory_order_relaxed);
        s->latency.addTo(t.latency);
        s->loginLatency.addTo(t.loginLatency);
    }
    return t;
}

JsonLine& JsonLine::add(std::string_view key, std::string_view text) {
    fields_.emplace_back(std::string(key), jsonString(text));
    return *this;
}

JsonLine& JsonLine::add(std::string_view key, double value) {
    char text[64];
    std::snprintf(text, sizeof text, "%.3f", value);
    fields_.emplace_back(std::string(key), text);
    return *this;
}

JsonLine& JsonLine::add(std::string_view key, std::uint64_t value) {
    fields_.emplace_back(std::string(key), std::to_string(value));
    return *this;
}

JsonLine& JsonLine::add(std::string_view key, std::int64_t value) {
    fields_.emplace_back(std::string(key), std::to_string(value));
    return *this;
}

JsonLine& JsonLine::add(std::string_view key, bool value) {
    fields_.emplace_back(std::string(key), value ? "true" : "false");
    return *this;
}

std::string JsonLine::str() const {
    std::string out = "{";
    for (std::size_t i = 0; i < fields_.size(); ++i) {
        if (i > 0) {
            out += ", ";
        }
        out += jsonString(fields_[i].first);
        out += ": ";
        out += fields_[i].second;
    }
    out += "}";
    return out;
}

namespace {

// The value of a "Key:   N kB" line of a /proc file, in bytes (0 when absent).
std::uint64_t kibField(const std::string& path, std::string_view key) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':') {
            std::istringstream fields(line.substr(key.size() + 1));
            std::uint64_t kib = 0;
            fields >> kib;
            return kib * 1024;
        }
    }
    return 0;
}

}  // namespace

std::uint64_t residentBytes(int pid) {
    return pid > 0 ? kibField("/proc/" + std::to_string(pid) + "/status", "VmRSS") : 0;
}

std::uint64_t anonymousResidentBytes(int pid) {
    return pid > 0 ? kibField("/proc/" + std::to_string(pid) + "/status", "RssAnon") : 0;
}

std::uint64_t ownResidentBytes() {
    return residentBytes(static_cast<int>(::getpid()));
}

double cpuSeconds(int pid) {
    if (pid <= 0) {
        return 0;
    }
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // proc(5): the command name (field 2) is in parentheses and may contain spaces; utime and stime
    // are fields 14 and 15, i.e. the 12th and 13th after the closing parenthesis.
    const auto close = all.rfind(')');
    if (close == std::string::npos) {
        return 0;
    }
    std::istringstream fields(all.substr(close + 1));
    std::string field;
    double ticks = 0;
    for (int i = 1; i <= 13 && fields >> field; ++i) {
        if (i >= 12) {
            ticks += std::stod(field);
        }
    }
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::uint64_t kernelSlabBytes() {
    return kibField("/proc/meminfo", "Slab");
}

std::uint64_t tcpSocketMemoryBytes() {
    std::ifstream in("/proc/net/sockstat");
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with("TCP:")) {
            continue;
        }
        const auto at = line.find(" mem ");
        if (at == std::string::npos) {
            return 0;
        }
        const std::uint64_t pages = std::stoull(line.substr(at + 5));
        return pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    }
    return 0;
}

namespace {

// Sums SK_MEMINFO of the dumped sockets with local port `port` into `total`; false at the end of the dump
// or on an error (`failed`).
bool addSocketMemory(const char* data, std::size_t size, std::uint16_t port, SocketMemory& total,
                     bool& failed) {
    int left = static_cast<int>(size);
    for (auto* header = reinterpret_cast<const nlmsghdr*>(data); NLMSG_OK(header, left);
         header = NLMSG_NEXT(header, left)) {
        if (header->nlmsg_type == NLMSG_DONE) {
            return false;
        }
        if (header->nlmsg_type == NLMSG_ERROR) {
            failed = true;
            return false;
        }
        const auto* message = static_cast<const inet_diag_msg*>(NLMSG_DATA(header));
        if (ntohs(message->id.idiag_sport) != port) {
            continue;
        }
        int attributesLeft = static_cast<int>(header->nlmsg_len - NLMSG_LENGTH(sizeof(*message)));
        for (auto* attribute = reinterpret_cast<const rtattr*>(message + 1);
             RTA_OK(attribute, attributesLeft); attribute = RTA_NEXT(attribute, attributesLeft)) {
            if (attribute->rta_type != INET_DIAG_SKMEMINFO ||
                RTA_PAYLOAD(attribute) < sizeof(std::uint32_t) * SK_MEMINFO_VARS) {
                continue;
            }
            const auto* memory = static_cast<const std::uint32_t*>(RTA_DATA(attribute));
            total.sockets += 1;
            total.bytes += std::uint64_t{memory[SK_MEMINFO_RMEM_ALLOC]} + memory[SK_MEMINFO_WMEM_QUEUED] +
                           memory[SK_MEMINFO_FWD_ALLOC] + memory[SK_MEMINFO_OPTMEM];
        }
    }
    return true;
}

}  // namespace

std::optional<SocketMemory> tcpSocketMemoryOnPort(std::uint16_t port) {
    const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        return std::nullopt;
    }
    struct {
        nlmsghdr header;
        inet_diag_req_v2 body;
    } request{};
    request.header.nlmsg_len = sizeof(request);
    request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.body.sdiag_family = AF_INET;
    request.body.sdiag_protocol = IPPROTO_TCP;
    constexpr unsigned tcpListen = 10;  // TCP_LISTEN in the kernel's state numbering
    request.body.idiag_states = 0xfffU & ~(1U << tcpListen);
    request.body.idiag_ext = 1U << (INET_DIAG_SKMEMINFO - 1);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    SocketMemory total;
    bool failed = ::sendto(fd, &request, sizeof(request), 0, reinterpret_cast<const sockaddr*>(&kernel),
                           sizeof(kernel)) != static_cast<ssize_t>(sizeof(request));
    std::vector<char> buffer(64 * 1024);
    while (!failed) {
        const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (got <= 0) {
            failed = true;
            break;
        }
        if (!addSocketMemory(buffer.data(), static_cast<std::size_t>(got), port, total, failed)) {
            break;
        }
    }
    ::close(fd);
    if (failed) {
        return std::nullopt;
    }
    return total;
}

}  // namespace parley::bench
