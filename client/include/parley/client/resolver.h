#pragma once
// Finding the server of a domain (RFC 6120 §3.2): DNS SRV records `_xmpps-client._tcp.<domain>`
// (direct TLS, XEP-0368) and `_xmpp-client._tcp.<domain>` (STARTTLS), ordered by priority and weight
// (RFC 2782); without any, the domain itself on port 5222 (RFC 6120 §3.2.2).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace parley::client {

struct SrvRecord {
    std::string target;  ///< host name, without the trailing dot
    std::uint16_t port = 0;
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
};

/// One place to try, in order.
struct ConnectTarget {
    std::string host;
    std::uint16_t port = 5222;
    bool directTls = false;  ///< TLS from the first byte (XEP-0368) instead of STARTTLS

    friend bool operator==(const ConnectTarget&, const ConnectTarget&) = default;
};

/// Looks up SRV records. Replaceable so that tests and embedders can answer without DNS.
class Resolver {
  public:
    virtual ~Resolver() = default;
    /// The records of `name` (e.g. "_xmpp-client._tcp.example.org"); empty if there are none or the
    /// lookup failed (the caller then falls back to the domain itself).
    virtual boost::asio::awaitable<std::vector<SrvRecord>> lookupSrv(std::string name) = 0;
};

/// The system resolver (c-ares, reading /etc/resolv.conf). Lookups run on a helper thread.
/// `nameservers` ("127.0.0.1:5353,[::1]:53") replaces the configured servers (tests, split DNS).
std::shared_ptr<Resolver> makeSystemResolver(std::string nameservers = {});

/// RFC 2782 order: ascending priority; within one priority, a weighted random selection (a record of
/// weight w is picked next with probability w / sum of the remaining weights; weight-0 records get a
/// tiny chance and so usually come last). `random` returns a number in [0, 1).
std::vector<SrvRecord> orderSrvRecords(std::vector<SrvRecord> records, const std::function<double()>& random);

/// Everything to try for `domain`, in order. XEP-0368 §3: the direct TLS and STARTTLS records are
/// merged and ordered together by priority and weight (RFC 2782). Without any record: the domain on
/// port 5222 with STARTTLS (RFC 6120 §3.2.2). A lone record with target "." means "decidedly not
/// available here" (RFC 2782) and removes its service from the list.
std::vector<ConnectTarget> connectTargets(const std::string& domain, const std::vector<SrvRecord>& directTls,
                                          const std::vector<SrvRecord>& startTls,
                                          const std::function<double()>& random);

}  // namespace parley::client
