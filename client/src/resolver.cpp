// SRV lookup with c-ares, and the RFC 2782 / XEP-0368 ordering of what it finds.
#include "parley/client/resolver.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <sys/select.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <mutex>
#include <numeric>

namespace parley::client {

namespace asio = boost::asio;

std::vector<SrvRecord> orderSrvRecords(std::vector<SrvRecord> records,
                                       const std::function<double()>& random) {
    std::stable_sort(records.begin(), records.end(),
                     [](const SrvRecord& a, const SrvRecord& b) { return a.priority < b.priority; });
    std::vector<SrvRecord> out;
    out.reserve(records.size());
    auto begin = records.begin();
    while (begin != records.end()) {
        auto end = std::find_if(begin, records.end(),
                                [&](const SrvRecord& r) { return r.priority != begin->priority; });
        std::vector<SrvRecord> group(begin, end);
        // RFC 2782 "Usage rules": weight-0 records first in the list, then a running sum; pick the first
        // record whose running sum reaches a random number in [0, total].
        std::stable_partition(group.begin(), group.end(), [](const SrvRecord& r) { return r.weight == 0; });
        while (!group.empty()) {
            const std::uint32_t total =
                std::accumulate(group.begin(), group.end(), 0u,
                                [](std::uint32_t s, const SrvRecord& r) { return s + r.weight; });
            const auto pick = static_cast<std::uint32_t>(random() * (static_cast<double>(total) + 1.0));
            std::uint32_t running = 0;
            auto chosen = group.begin();
            for (auto it = group.begin(); it != group.end(); ++it) {
                running += it->weight;
                if (running >= pick) {
                    chosen = it;
                    break;
                }
            }
            out.push_back(*chosen);
            group.erase(chosen);
        }
        begin = end;
    }
    return out;
}

std::vector<ConnectTarget> connectTargets(const std::string& domain, const std::vector<SrvRecord>& directTls,
                                          const std::vector<SrvRecord>& startTls,
                                          const std::function<double()>& random) {
    auto decidedlyNot = [](const std::vector<SrvRecord>& records) {
        return records.size() == 1 && (records[0].target.empty() || records[0].target == ".");
    };
    const bool noDirect = decidedlyNot(directTls);
    const bool noStartTls = decidedlyNot(startTls);
    // Merge both services, remembering which is which, and order them together (XEP-0368 §3).
    std::vector<SrvRecord> merged;
    std::vector<bool> isDirect;
    if (!noDirect) {
        merged.insert(merged.end(), directTls.begin(), directTls.end());
        isDirect.insert(isDirect.end(), directTls.size(), true);
    }
    if (!noStartTls) {
        merged.insert(merged.end(), startTls.begin(), startTls.end());
        isDirect.insert(isDirect.end(), startTls.size(), false);
    }
    // Order copies whose target is their index in `merged`, so that the service of each is kept.
    std::vector<SrvRecord> indexed;
    for (std::size_t i = 0; i < merged.size(); ++i) {
        SrvRecord r = merged[i];
        r.target = std::to_string(i);  // the index rides along; the real target is looked up after
        indexed.push_back(r);
    }
    std::vector<ConnectTarget> out;
    for (const SrvRecord& r : orderSrvRecords(std::move(indexed), random)) {
        const std::size_t i = std::stoul(r.target);
        out.push_back({merged[i].target, merged[i].port, isDirect[i]});
    }
    if (out.empty() && !noStartTls) {
        // RFC 6120 §3.2.2: no SRV records: the domain itself, on the default port.
        out.push_back({domain, 5222, false});
    }
    return out;
}

namespace {

struct SrvQuery {
    std::vector<SrvRecord> records;
};

void onSrv(void* arg, int status, int /*timeouts*/, unsigned char* answer, int length) {
    auto* query = static_cast<SrvQuery*>(arg);
    if (status != ARES_SUCCESS)
        return;
    ares_srv_reply* replies = nullptr;
    if (ares_parse_srv_reply(answer, length, &replies) != ARES_SUCCESS)
        return;
    for (ares_srv_reply* r = replies; r != nullptr; r = r->next) {
        std::string target = r->host ? r->host : "";
        if (!target.empty() && target.back() == '.')
            target.pop_back();
        if (target.empty())
            target = ".";
        query->records.push_back({target, r->port, r->priority, r->weight});
    }
    ares_free_data(replies);
}

// Runs one query to completion on the calling thread (a helper thread: the caller's executor never
// blocks). c-ares applies its own timeouts and retries (resolv.conf), so the loop always ends.
std::vector<SrvRecord> lookupBlocking(const std::string& name, const std::string& nameservers) {
    static std::once_flag initOnce;
    std::call_once(initOnce, [] { ares_library_init(ARES_LIB_INIT_ALL); });
    ares_channel channel = nullptr;
    if (ares_init(&channel) != ARES_SUCCESS)
        return {};
    if (!nameservers.empty() && ares_set_servers_ports_csv(channel, nameservers.c_str()) != ARES_SUCCESS) {
        ares_destroy(channel);
        return {};
    }
    SrvQuery query;
    ares_query(channel, name.c_str(), ns_c_in, ns_t_srv, &onSrv, &query);
    for (;;) {
        fd_set readers, writers;
        FD_ZERO(&readers);
        FD_ZERO(&writers);
        const int nfds = ares_fds(channel, &readers, &writers);
        if (nfds == 0)
            break;
        timeval tv{};
        timeval* timeout = ares_timeout(channel, nullptr, &tv);
        select(nfds, &readers, &writers, nullptr, timeout);
        ares_process(channel, &readers, &writers);
    }
    ares_destroy(channel);
    return query.records;
}

asio::awaitable<std::vector<SrvRecord>> lookupOnThisThread(std::string name, std::string nameservers) {
    co_return lookupBlocking(name, nameservers);
}

class CaresResolver final : public Resolver {
  public:
    explicit CaresResolver(std::string nameservers) : nameservers_(std::move(nameservers)) {}
    ~CaresResolver() override { pool_.join(); }

    asio::awaitable<std::vector<SrvRecord>> lookupSrv(std::string name) override {
        // The blocking c-ares loop runs on the pool's thread; the result comes back to our executor.
        auto work = lookupOnThisThread(std::move(name), nameservers_);
        auto task = asio::co_spawn(pool_, std::move(work), asio::use_awaitable);
        co_return co_await std::move(task);
    }

  private:
    std::string nameservers_;
    asio::thread_pool pool_{1};
};

}  // namespace

std::shared_ptr<Resolver> makeSystemResolver(std::string nameservers) {
    return std::make_shared<CaresResolver>(std::move(nameservers));
}

}  // namespace parley::client
