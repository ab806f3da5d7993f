#include "client.h"

#include <netinet/in.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "parley/base/base64.h"
#include "parley/sasl/plain.h"
#include "parley/xmpp/namespaces.h"

namespace parley::bench {

namespace {

using ns::kBind;
using ns::kSasl;
using ns::kStanzaErrors;
using ns::kStreamErrors;
using ns::kStreams;
using ns::kTls;
constexpr std::string_view kRoster = "jabber:iq:roster";

// Reads go into one buffer per loop thread and are parsed at once, so an idle client holds none.
thread_local std::array<char, 65536> readBuffer;

// The first child condition of an <error/> (stream or stanza), for messages people can act on.
std::string conditionOf(const xml::Element& element) {
    const xml::Element* error =
        element.name() == "error" ? &element : element.findChild("error", "jabber:client");
    if (error == nullptr) {
        return "(no error element)";
    }
    for (const xml::Element* child : error->children()) {
        if ((child->ns() == kStreamErrors || child->ns() == kStanzaErrors) && child->name() != "text") {
            std::string text = error->childText("text", child->ns());
            return text.empty() ? child->name() : child->name() + " (" + text + ")";
        }
    }
    return "(no condition)";
}

}  // namespace

std::string userName(const Options& options, std::uint64_t n) {
    return options.userPrefix + std::to_string(n);
}

Client::Client(Loop& loop, ClientShared& shared, std::uint64_t user)
    : loop_(loop), shared_(shared), user_(user), username_(userName(*shared.options, user)) {
    loop_.watched.insert(this);
}

Client::~Client() {
    loop_.watched.erase(this);
    if (conn_) {
        conn_->close();
    }
}

void Client::arm(double seconds) {
    timedOut_ = false;
    deadline_ =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

void Client::onDeadline() {
    timedOut_ = true;
    deadline_ = Clock::time_point::max();
    boost::system::error_code ignored;
    if (connecting_ != nullptr) {
        connecting_->cancel(ignored);
    } else if (conn_) {
        conn_->cancel();
    }
}

void Client::stop() {
    stopping_ = true;
    deadline_ = Clock::time_point::max();
    if (conn_) {
        conn_->close();
    }
    for (auto& [id, waiter] : waiters_) {
        waiter->timer->cancel();
    }
}

BenchError Client::failure(std::string_view what, const boost::system::error_code& ec) const {
    std::string message = username_ + ": " + std::string(what) + ": ";
    if (timedOut_) {
        message += "no answer from the server within " +
                   std::to_string(static_cast<int>(shared_.options->timeout)) + " s (--timeout)";
    } else if (ec == asio::error::eof) {
        message += "the server closed the connection";
    } else {
        message += ec.message();
    }
    return BenchError{std::move(message)};
}

std::string Client::nextId() {
    return "i" + std::to_string(++idCounter_);
}

asio::awaitable<Status> Client::connect() {
    const Options& o = *shared_.options;
    for (unsigned attempt = 0; attempt < 254; ++attempt) {
        asio::ip::tcp::socket socket(loop_.io);
        boost::system::error_code ec;
        socket.open(asio::ip::tcp::v4(), ec);
        if (ec) {
            // EMFILE: the process file limit (20 000 here) is smaller than the sessions asked for.
            co_return BenchError{"cannot open a socket: " + ec.message() +
                                 (ec == boost::system::errc::too_many_files_open
                                      ? " (the process file limit is reached: ask for fewer sessions)"
                                      : "")};
        }
        if (shared_.loopbackServer) {
            // Source addresses over 127.0.0.0/8: each has its own 28k ephemeral ports towards the
            // server. IP_BIND_ADDRESS_NO_PORT lets connect() pick the port for the full 4-tuple.
            const unsigned base = shared_.sourceCursor.load();
            const unsigned index = base + static_cast<unsigned>(user_ % o.sourceAddresses);
            const int one = 1;
            ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            socket.bind(asio::ip::tcp::endpoint(asio::ip::address_v4(0x7f000001u + index % 254), 0), ec);
            if (ec) {
                co_return BenchError{"cannot bind to 127.0.0." + std::to_string(1 + index % 254) + ": " +
                                     ec.message()};
            }
        }
        connecting_ = &socket;
        arm(o.timeout);
        auto [connectError] =
            co_await socket.async_connect(shared_.server, asio::as_tuple(asio::use_awaitable));
        connecting_ = nullptr;
        disarm();
        if (connectError == boost::system::errc::address_not_available && shared_.loopbackServer) {
            // This source address has no free port left: move everyone on to the next ones.
            unsigned seen = shared_.sourceCursor.load();
            shared_.sourceCursor.compare_exchange_strong(seen, seen + o.sourceAddresses);
            continue;
        }
        if (connectError) {
            co_return failure("cannot connect to " + o.host + ":" + std::to_string(o.port), connectError);
        }
        conn_ = std::make_unique<net::Connection>(std::move(socket));
        if (o.tls == TlsMode::Direct) {
            arm(o.timeout);
            const auto tlsError = co_await conn_->connectTls(shared_.tls, o.domain);
            disarm();
            if (tlsError) {
                co_return failure("TLS handshake (direct TLS)", tlsError);
            }
        }
        co_return Status{};
    }
    co_return BenchError{"every source address 127.0.0.1-254 ran out of ports"};
}

asio::awaitable<Status> Client::readMore() {
    const auto waitError = co_await conn_->waitReadable();
    if (waitError) {
        if (stopping_) {
            co_return BenchError{"stopped"};
        }
        co_return failure("reading", waitError);
    }
    auto n = conn_->readSome(std::span<char>(readBuffer.data(), readBuffer.size()));
    if (!n) {
        co_return failure("reading", n.error());
    }
    if (*n > 0) {
        parser_.feed(std::string_view(readBuffer.data(), *n));
    }
    co_return Status{};
}

asio::awaitable<Result<xml::Element, BenchError>> Client::next(double timeoutSeconds) {
    if (!backlog_.empty()) {
        xml::Element element = std::move(backlog_.front());
        backlog_.pop_front();
        co_return element;
    }
    for (;;) {
        while (auto event = parser_.next()) {
            if (auto* element = std::get_if<xml::Element>(&*event)) {
                if (element->is("error", kStreams)) {
                    co_return BenchError{username_ +
                                         ": stream error from the server: " + conditionOf(*element)};
                }
                co_return std::move(*element);
            }
            if (std::holds_alternative<xml::StreamClose>(*event)) {
                closeSeen_ = true;
                co_return BenchError{username_ + ": the server closed the stream"};
            }
            if (auto* failed = std::get_if<xml::StreamFailure>(&*event)) {
                co_return BenchError{username_ + ": the server sent bad XML: " + failed->detail};
            }
            // StreamOpen: the server's header; nothing in it that the generator needs.
        }
        if (timeoutSeconds > 0) {
            arm(timeoutSeconds);
        }
        const Status read = co_await readMore();
        disarm();
        if (!read) {
            co_return read.error();
        }
    }
}

asio::awaitable<Status> Client::flush() {
    if (writing_) {
        co_return Status{};  // the coroutine that is writing writes what was queued, too
    }
    writing_ = true;
    while (outPos_ < out_.size()) {
        auto n = conn_->writeSome(std::span<const char>(out_.data() + outPos_, out_.size() - outPos_));
        if (!n) {
            writing_ = false;
            co_return failure("writing", n.error());
        }
        if (*n == 0) {
            const auto waitError = co_await conn_->waitWritable();
            if (waitError) {
                writing_ = false;
                co_return failure("writing", waitError);
            }
            continue;
        }
        outPos_ += *n;
    }
    out_.clear();
    outPos_ = 0;
    if (out_.capacity() > 16384) {
        out_.shrink_to_fit();  // an idle client keeps no large buffer
    }
    writing_ = false;
    co_return Status{};
}

asio::awaitable<Status> Client::send(std::string_view bytes) {
    out_.append(bytes);
    const Status written = co_await flush();
    co_return written;
}

asio::awaitable<Status> Client::restartStream() {
    const Options& o = *shared_.options;
    parser_.reset();
    // RFC 6120 §4.7: to is the service domain; version 1.0 asks for stream features.
    const std::string header =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams' to='" +
        o.domain + "' version='1.0' xml:lang='en'>";
    const Status sent = co_await send(header);
    if (!sent) {
        co_return sent.error();
    }
    auto features = co_await next(o.timeout);
    if (!features) {
        co_return features.error();
    }
    if (!features->is("features", kStreams)) {
        co_return BenchError{username_ + ": expected <stream:features/>, got <" + features->name() + "/>"};
    }
    features_ = std::move(*features);
    co_return Status{};
}

asio::awaitable<Status> Client::openStream() {
    const Options& o = *shared_.options;
    const Status opened = co_await restartStream();
    if (!opened) {
        co_return opened.error();
    }
    if (o.tls == TlsMode::StartTls && !conn_->isTls()) {
        const Status upgraded = co_await startTls();
        if (!upgraded) {
            co_return upgraded.error();
        }
        const Status reopened = co_await openStream();
        co_return reopened;
    }
    co_return Status{};
}

asio::awaitable<Status> Client::startTls() {
    const Options& o = *shared_.options;
    if (features_.findChild("starttls", kTls) == nullptr) {
        co_return BenchError{"the server does not offer STARTTLS on port " + std::to_string(o.port) +
                             " (use --tls none, or --tls direct on a direct TLS port)"};
    }
    const Status sent = co_await send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    if (!sent) {
        co_return sent.error();
    }
    auto proceed = co_await next(o.timeout);
    if (!proceed) {
        co_return proceed.error();
    }
    if (!proceed->is("proceed", kTls)) {
        co_return BenchError{username_ + ": STARTTLS refused (<" + proceed->name() + "/>)"};
    }
    arm(o.timeout);
    const auto tlsError = co_await conn_->connectTls(shared_.tls, o.domain);
    disarm();
    if (tlsError) {
        co_return failure("TLS handshake (STARTTLS)", tlsError);
    }
    co_return Status{};
}

asio::awaitable<Status> Client::authenticate() {
    const Options& o = *shared_.options;
    const xml::Element* mechanisms = features_.findChild("mechanisms", kSasl);
    bool offered = false;
    std::string offeredList;
    if (mechanisms != nullptr) {
        for (const xml::Element* m : mechanisms->children("mechanism", kSasl)) {
            offered = offered || m->text() == o.mech;
            offeredList += (offeredList.empty() ? "" : " ") + m->text();
        }
    }
    if (!offered) {
        co_return BenchError{"the server does not offer SASL " + o.mech +
                             " here (it offers: " + (offeredList.empty() ? "nothing" : offeredList) +
                             "); PLAIN without TLS needs the server to allow it"};
    }
    if (o.mech == "PLAIN") {
        auto message = sasl::plainMessage(username_, o.password);
        if (!message) {
            co_return BenchError{"cannot build a PLAIN message for " + username_};
        }
        const Status sent =
            co_await send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
                          base64Encode(*message) + "</auth>");
        if (!sent) {
            co_return sent.error();
        }
        auto reply = co_await next(o.timeout);
        if (!reply) {
            co_return reply.error();
        }
        if (!reply->is("success", kSasl)) {
            co_return BenchError{username_ + ": login refused: " + reply->name() + " " +
                                 (reply->firstChild() ? reply->firstChild()->name() : std::string())};
        }
        co_return Status{};
    }
    const auto algorithm = o.mech == "SCRAM-SHA-1"     ? sasl::HashAlgorithm::Sha1
                           : o.mech == "SCRAM-SHA-512" ? sasl::HashAlgorithm::Sha512
                                                       : sasl::HashAlgorithm::Sha256;
    sasl::ScramClient scram(algorithm, username_, o.password);
    if (o.scramCache) {
        std::lock_guard lock(shared_.cacheMutex);
        auto it = shared_.scramCache.find(user_);
        if (it != shared_.scramCache.end() && it->second.algorithm == algorithm) {
            scram.useCachedSaltedPassword(it->second);
        } else if (shared_.lastSalted && shared_.lastSalted->algorithm == algorithm) {
            // Used only if the server's salt and iteration count are the same (ScramClient checks).
            scram.useCachedSaltedPassword(*shared_.lastSalted);
        }
    }
    Status sent = co_await send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + o.mech + "'>" +
                                base64Encode(scram.clientFirst()) + "</auth>");
    if (!sent) {
        co_return sent.error();
    }
    auto challenge = co_await next(o.timeout);
    if (!challenge) {
        co_return challenge.error();
    }
    if (!challenge->is("challenge", kSasl)) {
        co_return BenchError{
            username_ + ": login refused: <" + challenge->name() + "> " +
            (challenge->firstChild() ? challenge->firstChild()->name() : std::string()) +
            " (does the account exist? create it with parleyctl adduser-range or the register "
            "scenario)"};
    }
    auto serverFirst = base64Decode(challenge->text());
    auto clientFinal = scram.clientFinal(serverFirst ? *serverFirst : std::string());
    if (!clientFinal) {
        co_return BenchError{username_ + ": the server's SCRAM challenge is not acceptable"};
    }
    sent = co_await send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64Encode(*clientFinal) +
                         "</response>");
    if (!sent) {
        co_return sent.error();
    }
    auto outcome = co_await next(o.timeout);
    if (!outcome) {
        co_return outcome.error();
    }
    if (!outcome->is("success", kSasl)) {
        co_return BenchError{username_ + ": login refused: <" + outcome->name() + "> " +
                             (outcome->firstChild() ? outcome->firstChild()->name() : std::string()) +
                             " (wrong --password?)"};
    }
    auto serverFinal = base64Decode(outcome->text());
    if (!serverFinal || !scram.verifyServerFinal(*serverFinal)) {
        co_return BenchError{username_ + ": the server's SCRAM signature is wrong"};
    }
    if (o.scramCache && scram.saltedPassword()) {
        std::lock_guard lock(shared_.cacheMutex);
        shared_.scramCache[user_] = *scram.saltedPassword();
        shared_.lastSalted = *scram.saltedPassword();
    }
    co_return Status{};
}

asio::awaitable<Status> Client::authenticateAndBind() {
    const Options& o = *shared_.options;
    const Status authenticated = co_await authenticate();
    if (!authenticated) {
        co_return authenticated.error();
    }
    // RFC 6120 §6.4.6: after <success/> the client restarts the stream.
    const Status restarted = co_await restartStream();
    if (!restarted) {
        co_return restarted.error();
    }
    const std::string resource = o.resourcePrefix + std::to_string(++shared_.resourceCounter);
    auto bound = co_await request("<iq type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" +
                                      resource + "</resource></bind></iq>",
                                  "resource binding");
    if (!bound) {
        co_return bound.error();
    }
    if (bound->findChild("bind", kBind) == nullptr) {
        co_return BenchError{username_ + ": the bind result has no <bind/>"};
    }
    co_return Status{};
}

asio::awaitable<Status> Client::login(bool available) {
    const auto started = Clock::now();
    Status step = co_await connect();
    if (step) {
        step = co_await openStream();
    }
    if (step) {
        step = co_await authenticateAndBind();
    }
    if (!step) {
        co_return step.error();
    }
    // RFC 6121 §2.1.3 roster get, then §4.2 initial presence: what a real client does at login.
    auto roster = co_await request("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>", "roster get");
    if (!roster) {
        co_return roster.error();
    }
    if (const xml::Element* query = roster->findChild("query", kRoster);
        query != nullptr && shared_.keepRosters) {
        roster_ = *query;
    }
    features_ = xml::Element();  // an idle simulated client keeps as little as it can
    if (available) {
        const Status sent = co_await send("<presence/>");
        if (!sent) {
            co_return sent.error();
        }
    }
    loop_.stats.loginLatency.record(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started).count()));
    co_return Status{};
}

asio::awaitable<Result<xml::Element, BenchError>> Client::request(std::string iq, std::string_view what) {
    const std::string id = nextId();
    iq.insert(3, " id='" + id + "'");  // after "<iq"
    const Status sent = co_await send(iq);
    if (!sent) {
        co_return sent.error();
    }
    for (;;) {
        auto reply = co_await next(shared_.options->timeout);
        if (!reply) {
            co_return reply.error();
        }
        if (reply->name() == "iq" && reply->attr("id") == id) {
            if (reply->attr("type") != "result") {
                co_return BenchError{username_ + ": " + std::string(what) +
                                     " failed: " + conditionOf(*reply)};
            }
            co_return std::move(*reply);
        }
        backlog_.push_back(std::move(*reply));
    }
}

asio::awaitable<Status> Client::run(Handler handler) {
    for (;;) {
        auto element = co_await next(0);
        if (!element) {
            if (stopping_) {
                co_return Status{};
            }
            co_return element.error();
        }
        if (element->name() == "iq") {
            const std::string_view type = element->attr("type");
            if (type == "result" || type == "error") {
                auto it = waiters_.find(std::string(element->attr("id")));
                if (it != waiters_.end()) {
                    it->second->reply = std::move(*element);
                    it->second->timer->cancel();
                }
                continue;
            }
            // RFC 6120 §8.2.3: every get/set is answered. Roster pushes (RFC 6121 §2.1.6) get a result;
            // anything else, e.g. a disco#info for capabilities, gets service-unavailable.
            const std::string id(element->attr("id"));
            std::string reply;
            if (element->findChild("query", kRoster) != nullptr ||
                element->findChild("ping", "urn:xmpp:ping")) {
                reply = "<iq type='result' id='";
                xml::appendEscapedAttr(reply, id);
                reply += "'/>";
            } else {
                reply = "<iq type='error' id='";
                xml::appendEscapedAttr(reply, id);
                reply += "' to='";
                xml::appendEscapedAttr(reply, element->attr("from"));
                reply +=
                    "'><error type='cancel'><service-unavailable "
                    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>";
            }
            const Status sent = co_await send(reply);
            if (!sent && !stopping_) {
                co_return sent.error();
            }
            continue;
        }
        handler(*element);
    }
}

asio::awaitable<Result<xml::Element, BenchError>> Client::requestWhileRunning(std::string iq,
                                                                              std::string_view what,
                                                                              double timeoutSeconds) {
    const std::string id = nextId();
    iq.insert(3, " id='" + id + "'");
    asio::steady_timer timer(loop_.io);
    Waiter waiter{&timer, std::nullopt};
    waiters_[id] = &waiter;
    const double timeout = timeoutSeconds > 0 ? timeoutSeconds : shared_.options->timeout;
    timer.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout)));
    const Status sent = co_await send(iq);
    if (sent) {
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    waiters_.erase(id);
    if (!sent) {
        co_return sent.error();
    }
    if (!waiter.reply) {
        co_return BenchError{username_ + ": " + std::string(what) + ": " +
                             (stopping_
                                  ? std::string("stopped")
                                  : "no answer within " + std::to_string(static_cast<int>(timeout)) + " s")};
    }
    if (waiter.reply->attr("type") != "result") {
        co_return BenchError{username_ + ": " + std::string(what) + " failed: " + conditionOf(*waiter.reply)};
    }
    co_return std::move(*waiter.reply);
}

asio::awaitable<void> Client::logout() {
    if (!conn_ || !conn_->isOpen()) {
        co_return;
    }
    // RFC 6120 §4.4: close our stream, let the server close its stream and the TCP connection first.
    const Status sent = co_await send("</stream:stream>");
    if (sent) {
        for (int i = 0; i < 1000; ++i) {
            if (closeSeen_) {
                arm(5);
                const Status read = co_await readMore();  // until the server's FIN (eof)
                disarm();
                if (!read) {
                    break;
                }
                continue;
            }
            auto element = co_await next(5);
            if (!element) {
                if (!closeSeen_) {
                    break;
                }
            }
        }
    }
    conn_->close();
}

}  // namespace parley::bench
