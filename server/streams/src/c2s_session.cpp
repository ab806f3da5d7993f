#include "parley/streams/c2s_session.h"

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "parley/base/base64.h"
#include "parley/base/random.h"
#include "parley/sasl/mechanism.h"
#include "parley/server/offload.h"
#include "parley/storage/storage.h"
#include "parley/streams/c2s_service.h"
#include "parley/xmpp/namespaces.h"

namespace parley::server {

using xmpp::StreamError;
using xmpp::StreamErrorCondition;

namespace {

const Logger& c2sLog() {
    static const Logger log("c2s");
    return log;
}

// Bytes read per wake-up before other sessions on the loop get a turn.
constexpr std::size_t kReadBudget = 256 * 1024;
// The most stanza pointers a session keeps allocated between output batches (C2sSession::batch_).
constexpr std::size_t kKeptBatchCapacity = 4;

// An emptied output buffer larger than this is given back: the stream features (about 1.5 KiB) would
// otherwise stay allocated in every idle session. Chat-sized stanzas stay below it, so the hot path
// keeps reusing its buffer (docs/benchmarks-findings/memory.md).
constexpr std::size_t kKeptOutputCapacity = 1024;

// One read buffer per event-loop thread: an idle session holds none (docs/ARCHITECTURE.md "Memory").
std::span<char> threadReadBuffer() {
    static thread_local std::array<char, 64 * 1024> buffer;
    return buffer;
}

StreamError streamErrorFor(xml::ParseError error, std::string detail) {
    switch (error) {
        case xml::ParseError::RestrictedXml:
            return {StreamErrorCondition::RestrictedXml, std::move(detail), {}};
        case xml::ParseError::UnsupportedEncoding:
            return {StreamErrorCondition::UnsupportedEncoding, std::move(detail), {}};
        case xml::ParseError::BadNamespacePrefix:
            return {StreamErrorCondition::BadNamespacePrefix, std::move(detail), {}};
        case xml::ParseError::ElementTooBig: {
            // XEP-0478 / XEP-0205: policy-violation with the stanza-too-big application condition.
            StreamError e{StreamErrorCondition::PolicyViolation, std::move(detail), {}};
            e.applicationCondition = xml::Element("stanza-too-big", std::string(ns::kXmppErrors));
            return e;
        }
        case xml::ParseError::TooDeep:
        case xml::ParseError::TooManyAttributes:
            return {StreamErrorCondition::PolicyViolation, std::move(detail), {}};
        case xml::ParseError::NotWellFormed:
            break;
    }
    return {StreamErrorCondition::NotWellFormed, std::move(detail), {}};
}

xml::StreamLimits parserLimits(const LimitsConfig& limits) {
    xml::StreamLimits result;
    result.maxElementBytes = limits.maxStanzaBytes;
    result.maxDepth = limits.maxDepth;
    result.maxAttributes = limits.maxAttributes;
    return result;
}

std::string saslElement(std::string_view name, std::string_view data) {
    std::string out = "<";
    out.append(name).append(" xmlns='").append(ns::kSasl).append("'>");
    out.append(data.empty() ? std::string() : base64Encode(data));
    out.append("</").append(name).append(">");
    return out;
}

}  // namespace

C2sSession::C2sSession(std::shared_ptr<const C2sListenerContext> context, net::tcp::socket socket,
                       asio::io_context& loop)
    : Session(context->core->nextSessionId(), context->core->modules().sessionSlotCount()),
      context_(std::move(context)),
      core_(*context_->core),
      connection_(std::move(socket)),
      executor_(loop.get_executor()),
      parser_(parserLimits(core_.config().limits)),
      readLimiter_(core_.config().limits.inboundBytesPerSecond, core_.clock().now()),
      presenceLimiter_(core_.config().limits.presencePerSecond, core_.clock().now(), kPresenceBurstSeconds) {
    connectedAt_ = lastRead_ = lastWriteProgress_ = core_.clock().now();
    context_->liveConnections->fetch_add(1);
    preauthCounted_ = true;
}

C2sSession::~C2sSession() {
    if (context_->limits)
        context_->limits->closed(connection_.remoteEndpoint().address(), preauthCounted_);
    context_->liveConnections->fetch_sub(1);
}

void C2sSession::start(std::shared_ptr<C2sSession> session) {
    auto executor = session->executor_;
    asio::co_spawn(
        executor, [session = std::move(session)]() { return session->run(); }, asio::detached);
}

std::string C2sSession::describe() const {
    std::string text = "c2s ";
    text += tls_ ? connection_.tlsVersion() : std::string("plain");
    const auto& remote = connection_.remoteEndpoint();
    text += " " + remote.address().to_string() + ":" + std::to_string(remote.port());
    return text;
}

// --- the owning coroutine ----------------------------------------------------------------------

asio::awaitable<void> C2sSession::run() {
    auto self = shared_from_this();  // keeps the session alive while its coroutine runs
    if (context_->listener.tls == TlsMode::Direct) {
        const bool secured = co_await acceptDirectTls();
        if (!secured) {
            finish();
            co_return;
        }
    }
    while (!ended()) {
        co_await handleParsedEvents();
        if (ended())
            break;
        if (!flush())
            break;
        if (closeWhenFlushed_ && out_.empty() && queue_.empty())
            break;

        net::error_code ec;
        if (!out_.empty()) {
            parked_ = Parked::Writing;
            ec = co_await connection_.waitWritable();
        } else {
            parked_ = Parked::Reading;
            ec = co_await connection_.waitReadable();
        }
        const Parked was = std::exchange(parked_, Parked::None);
        if (ec == asio::error::operation_aborted)
            continue;  // woken: new output, a close, or a timeout
        if (ec)
            break;
        // GCC 12 miscompiles co_await inside conditions; keep every co_await a plain statement.
        if (was == Parked::Reading) {
            const bool open = co_await readAvailable();
            if (!open)
                break;
            co_await pauseReadingIfOverLimit();
        }
    }
    finish();
}

// The handshake, the event and the timer below live in frames of their own, freed before run() parks: GCC
// keeps every local of a coroutine in its frame for its whole life, and run()'s frame is held by every idle
// session (docs/benchmarks-findings/memory.md).
asio::awaitable<bool> C2sSession::acceptDirectTls() {
    // XEP-0368: TLS from the first byte.
    const auto ec = co_await connection_.acceptTls(context_->tls->native());
    if (ec) {
        c2sLog().debug("TLS handshake failed with " + describe() + ": " + ec.message());
        co_return false;
    }
    tls_ = true;
    co_return true;
}

asio::awaitable<void> C2sSession::handleParsedEvents() {
    while (!ended() && !closeWhenFlushed_) {
        auto event = parser_.next();
        if (!event)
            break;
        co_await handleEvent(std::move(*event));
    }
}

asio::awaitable<void> C2sSession::pauseReadingIfOverLimit() {
    const auto pause = readLimiter_.pause(core_.clock().now());
    if (pause.count() > 0) {
        // Over limits.inbound_bytes_per_second: stop reading for a while (XEP-0205 §4.7);
        // the client's data waits in the kernel, nothing is dropped. Output still flows after.
        asio::steady_timer timer(executor_, pause);
        co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
}

asio::awaitable<bool> C2sSession::readAvailable() {
    std::span<char> buffer = threadReadBuffer();
    std::size_t total = 0;
    while (total < kReadBudget) {
        auto n = connection_.readSome(buffer);
        if (!n) {
            if (n.error() != asio::error::eof) {
                c2sLog().debug("read error from " + describe() + ": " + n.error().message());
            }
            co_return false;
        }
        if (*n == 0)
            break;
        total += *n;
        lastRead_ = core_.clock().now();
        readLimiter_.onRead(*n);
        // Parse at once, while the bytes are still in the per-thread buffer.
        parser_.feed(std::string_view(buffer.data(), *n));
        if (parser_.bufferedBytes() == 0 && *n < buffer.size())
            break;
    }
    co_return true;
}

void C2sSession::finish() {
    if (state_ == State::Detached || state_ == State::TakenOver) {
        connection_.close();
        return;
    }
    if (state_ == State::Closed && !connection_.isOpen())
        return;
    // The connection is lost without a closing tag (or the peer stopped reading): a session that
    // asked for it stays bound for a while, waiting for the client to take it over (XEP-0198 §5).
    if (state_ == State::Bound && (!closeWhenFlushed_ || writeStalled_) && detachTimeout().count() > 0) {
        detach();
        return;
    }
    state_ = State::Closed;
    if (isBound())
        core_.endSession(*this);
    connection_.close();
    queue_.clear();
    out_.clear();
    mechanism_.reset();
    notifyWriteWaiters(true);
}

void C2sSession::detach() {
    connection_.close();
    state_ = State::Detached;
    setDetached(true);
    detachedAt_ = core_.clock().now();
    closeWhenFlushed_ = false;
    // Bytes not yet written belong to stanzas the filters already saw; stanzas still queued go to the
    // filters now, as everything delivered while detached does.
    out_.clear();
    // Nothing more is written by this connection (a resumed stream resends what the client did not
    // acknowledge; the session's end routes it again): whoever waits for a write keeps its copy.
    notifyWriteWaiters(true);
    std::vector<xmpp::StanzaPtr> pending = std::move(queue_);
    queue_.clear();
    for (const xmpp::StanzaPtr& stanza : pending)
        filterOut(stanza);
    c2sLog().info(jid().str() + " lost its connection (" + describe() + "); the session waits " +
                  std::to_string(detachTimeout().count()) + " s to be resumed");
}

void C2sSession::endDetached() {
    state_ = State::Closed;
    setDetached(false);
    core_.endSession(*this);
}

bool C2sSession::handOver(C2sSession& previous, const std::shared_ptr<C2sSession>& heir) {
    if (!previous.isBound() || previous.jid().local() != heir->username_ ||
        previous.jid().domain() != heir->host_) {
        return false;  // never another account's session
    }
    if (previous.state_ == State::Bound && !previous.closeWhenFlushed_ &&
        previous.detachTimeout().count() > 0) {
        // The client is back before we noticed that its old connection died (a mobile network
        // switch): cut the old connection now, as its loss would have.
        previous.detach();
    }
    if (previous.state_ != State::Detached)
        return false;
    previous.state_ = State::TakenOver;
    previous.setDetached(false);
    previous.successor_ = heir;
    heir->adoptFrom(previous);
    return true;
}

asio::awaitable<bool> C2sSession::takeOver(SessionPtr previous, std::function<void(Session&)> onTakenOver) {
    auto old = std::dynamic_pointer_cast<C2sSession>(previous);
    if (!old || old.get() == this || !authenticated_ || isBound() || state_ != State::Negotiating)
        co_return false;
    auto self = std::static_pointer_cast<C2sSession>(shared_from_this());
    // The previous session's state belongs to its loop: hand it over there.
    auto work = [old, self] { return handOver(*old, self); };
    const bool handedOver = co_await runOn(old->executor_, std::move(work));
    if (!handedOver)
        co_return false;
    core_.transferSession(*old, self);
    if (state_ != State::Negotiating) {
        // This stream failed while the session moved: the session ends here, like any other.
        core_.endSession(*this);
        co_return false;
    }
    state_ = State::Bound;
    // What reached the previous session after it was handed over was forwarded here; it comes after
    // whatever onTakenOver writes (e.g. the stanzas the client has not acknowledged yet).
    std::vector<xmpp::StanzaPtr> forwarded = std::move(queue_);
    queue_.clear();
    if (onTakenOver)
        onTakenOver(*this);
    for (xmpp::StanzaPtr& stanza : forwarded)
        queue_.push_back(std::move(stanza));
    c2sLog().info(jid().str() + " resumed its session on " + describe());
    co_return true;
}

void C2sSession::sendNonza(const xml::Element& element) {
    if (ended() || closeWhenFlushed_)
        return;
    writeQueued();  // after the stanzas queued before it
    element.serializeTo(out_, "jabber:client");
    wake();
}

void C2sSession::sendStanza(xml::Element element) {
    if (state_ != State::Bound) {
        sendElement(element);
        return;
    }
    auto stanza = xmpp::Stanza::fromElement(std::move(element));
    if (!stanza) {
        sendElement(element);  // fromElement leaves it intact on failure
        return;
    }
    queue_.push_back(std::make_shared<const xmpp::Stanza>(std::move(*stanza)));
}

bool C2sSession::filterOut(const xmpp::StanzaPtr& stanza, std::optional<int> below) {
    for (const auto& entry : core_.modules().stanzaFilters()) {
        if (below && entry.priority >= *below)
            continue;
        if (entry.filter(*this, stanza) == FilterVerdict::Hold)
            return false;
    }
    return true;
}

void C2sSession::writeQueued() {
    // In batches: what a filter causes to be queued meanwhile is written after the batch, in order.
    while (!queue_.empty()) {
        // The two vectors trade places, so that neither is allocated again for the next batch.
        std::vector<xmpp::StanzaPtr> batch = std::move(batch_);
        batch.swap(queue_);
        for (const xmpp::StanzaPtr& stanza : batch) {
            if (filterOut(stanza))
                stanza->serializeTo(out_, "jabber:client");
        }
        batch.clear();
        if (batch.capacity() <= kKeptBatchCapacity)
            batch_ = std::move(batch);  // a burst's storage is not kept by an idle session
    }
}

void C2sSession::writeHeld(std::vector<xmpp::StanzaPtr> stanzas, int filterPriority) {
    // Also while detached or ending: lower filters (which may keep a copy) still see them.
    const bool writable = state_ == State::Bound && !closeWhenFlushed_;
    for (const xmpp::StanzaPtr& stanza : stanzas) {
        if (filterOut(stanza, filterPriority) && writable)
            stanza->serializeTo(out_, "jabber:client");
    }
    if (writable)
        wake();
}

// --- output ------------------------------------------------------------------------------------

void C2sSession::deliver(xmpp::StanzaPtr stanza) {
    if (executor_.running_in_this_thread()) {
        enqueue(std::move(stanza));
        return;
    }
    asio::post(executor_, [self = std::static_pointer_cast<C2sSession>(shared_from_this()),
                           stanza = std::move(stanza)]() mutable { self->enqueue(std::move(stanza)); });
}

void C2sSession::enqueue(xmpp::StanzaPtr stanza) {
    if (state_ == State::TakenOver) {
        if (auto heir = successor_.lock())
            heir->deliver(std::move(stanza));
        return;
    }
    if (state_ == State::Detached) {
        filterOut(stanza);  // nothing is written; the filters keep what they must
        return;
    }
    if (state_ == State::Closed || closeWhenFlushed_)
        return;
    const auto& limits = core_.config().limits;
    // Only a session parked until its socket drains is behind: the client is not taking our output.
    // While the coroutine is busy with the client's own input (say, a batch of 100 messages whose
    // bounces come back here) or pauses reading for the inbound rate, the queue is written at its
    // next flush; counting it then cut off clients that read perfectly well (reliability row 34).
    const bool clientBehind = parked_ == Parked::Writing;
    // Whatever the state, a hard ceiling: a long inbound-rate pause must not let the queue grow freely.
    const bool farOver = queue_.size() >= 16 * limits.outboundQueueStanzas;
    if (farOver || (clientBehind && (queue_.size() >= limits.outboundQueueStanzas ||
                                     out_.size() >= limits.outboundQueueBytes))) {
        // A client that does not read: close it rather than grow memory (reliability row 34).
        c2sLog().info("closing " + describe() + ": its outbound queue is full (the client does not read)");
        streamError({StreamErrorCondition::PolicyViolation, "Too many unread stanzas", {}});
        return;
    }
    queue_.push_back(std::move(stanza));
    wake();
}

void C2sSession::close(StreamError error) {
    if (executor_.running_in_this_thread()) {
        handleClose(std::move(error));
        return;
    }
    asio::post(executor_, [self = std::static_pointer_cast<C2sSession>(shared_from_this()),
                           error = std::move(error)]() mutable { self->handleClose(std::move(error)); });
}

void C2sSession::handleClose(StreamError error) {
    if (state_ == State::TakenOver) {
        if (auto heir = successor_.lock())
            heir->close(std::move(error));
        return;
    }
    if (state_ == State::Detached) {
        endDetached();  // no connection to tell
        return;
    }
    streamError(std::move(error));
}

void C2sSession::whenWritten(std::function<void(bool written)> done) {
    if (!executor_.running_in_this_thread()) {
        asio::post(executor_, [self = std::static_pointer_cast<C2sSession>(shared_from_this()),
                               done = std::move(done)]() mutable { self->whenWritten(std::move(done)); });
        return;
    }
    if (state_ == State::TakenOver) {
        if (auto heir = successor_.lock()) {
            heir->whenWritten(std::move(done));
            return;
        }
    }
    if (writtenKeeper_ && (state_ == State::Bound || state_ == State::Detached)) {
        // The filters (stream management's counting) see what is queued before the keeper does.
        if (state_ == State::Bound)
            writeQueued();
        writtenKeeper_(*this, std::move(done));
        return;
    }
    if (state_ == State::Closed || state_ == State::Detached || state_ == State::TakenOver) {
        asio::post(executor_, [done = std::move(done)] { done(false); });
        return;
    }
    // The mark is a byte count: the callback waits until every byte serialized so far is written.
    writeQueued();
    writeWaiters_.emplace_back(bytesWritten_ + out_.size(), std::move(done));
    if (out_.empty())
        notifyWriteWaiters(false);
    else
        wake();
}

void C2sSession::notifyWriteWaiters(bool ended) {
    std::size_t ready = 0;
    while (ready < writeWaiters_.size() && (ended || writeWaiters_[ready].first <= bytesWritten_))
        ++ready;
    if (ready == 0)
        return;
    std::vector<std::function<void(bool)>> callbacks;
    callbacks.reserve(ready);
    for (std::size_t i = 0; i < ready; ++i)
        callbacks.push_back(std::move(writeWaiters_[i].second));
    writeWaiters_.erase(writeWaiters_.begin(), writeWaiters_.begin() + static_cast<std::ptrdiff_t>(ready));
    // Posted, never called from inside the session's own bookkeeping (the callback may deliver again).
    asio::post(executor_, [callbacks = std::move(callbacks), written = !ended]() {
        for (const auto& callback : callbacks)
            callback(written);
    });
}

void C2sSession::wake() {
    // Only a coroutine parked on readability needs waking; one parked on writability writes the new
    // bytes when the socket drains, and a busy one flushes after the current event.
    if (parked_ == Parked::Reading)
        connection_.cancel();
}

bool C2sSession::flush() {
    writeQueued();
    std::size_t written = 0;
    while (written < out_.size()) {
        auto n = connection_.writeSome(std::span<const char>(out_.data() + written, out_.size() - written));
        if (!n) {
            c2sLog().debug("write error to " + describe() + ": " + n.error().message());
            return false;
        }
        if (*n == 0)
            break;
        written += *n;
    }
    if (written > 0) {
        lastWriteProgress_ = core_.clock().now();
        out_.erase(0, written);
        bytesWritten_ += written;
        if (!writeWaiters_.empty())
            notifyWriteWaiters(false);
    }
    if (out_.empty() && out_.capacity() > kKeptOutputCapacity)
        std::string().swap(out_);  // keep idle sessions small
    return true;
}

asio::awaitable<bool> C2sSession::flushFully() {
    while (true) {
        if (!flush())
            co_return false;
        if (out_.empty())
            co_return true;
        const net::error_code ec = co_await connection_.waitWritable();
        if (ec)
            co_return false;
    }
}

void C2sSession::sendHeader() {
    // RFC 6120 §4.7: our response header; `from` is the served domain, a fresh id per stream.
    streamId_ = randomId(20);
    out_.append("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='");
    out_.append(ns::kStreams).append("' id='").append(streamId_).append("'");
    if (!host_.empty())
        out_.append(" from='").append(host_).append("'");
    out_.append(" version='1.0' xml:lang='en'>");
    headerSent_ = true;
}

void C2sSession::streamError(StreamError error) {
    if (ended() || closeWhenFlushed_)
        return;
    // §4.9.1.2: an error before our header is sent still gets a header first.
    if (!headerSent_)
        sendHeader();
    c2sLog().debug("stream error " + std::string(xmpp::toString(error.condition)) + " to " + describe() +
                   (error.text.empty() ? "" : ": " + error.text));
    writeQueued();
    out_.append(error.toXml());
    out_.append("</stream:stream>");
    closeTagSent_ = true;
    // §4.9.1.1: the stream is closed after the error; we close TCP once the bytes are written.
    closeWhenFlushed_ = true;
    state_ = State::Closing;
    closingSince_ = core_.clock().now();
    if (isBound())
        core_.endSession(*this);
    wake();
}

void C2sSession::checkTimeouts(Clock::TimePoint now) {
    if (state_ == State::Detached) {
        if (now - detachedAt_ >= detachTimeout()) {
            c2sLog().info(jid().str() + " was not resumed within " + std::to_string(detachTimeout().count()) +
                          " s; its session ends");
            endDetached();
        }
        return;
    }
    if (ended())
        return;
    const auto& timeouts = core_.config().timeouts;
    if (closeWhenFlushed_) {
        // A peer that does not take our final bytes within the grace period is cut off.
        if (now - closingSince_ > timeouts.closeGrace) {
            connection_.close();
            wake();
            if (parked_ == Parked::Writing)
                connection_.cancel();
        }
        return;
    }
    if (!out_.empty() && now - lastWriteProgress_ > timeouts.writeStall) {
        c2sLog().info("closing " + describe() + ": it has not read for " +
                      std::to_string(timeouts.writeStall.count()) + " s");
        closeWhenFlushed_ = true;
        writeStalled_ = true;
        connection_.close();
        connection_.cancel();
        return;
    }
    if (state_ != State::Bound) {
        // RFC 6120 §4.6.3 / reliability row 32: negotiation has a deadline whatever keepalives arrive.
        if (now - connectedAt_ > timeouts.negotiation) {
            streamError({StreamErrorCondition::ConnectionTimeout, "Stream negotiation took too long", {}});
        }
        return;
    }
    if (now - lastRead_ > timeouts.idle) {
        streamError({StreamErrorCondition::ConnectionTimeout, "Idle for too long", {}});
    }
}

// --- input -------------------------------------------------------------------------------------

asio::awaitable<void> C2sSession::handleEvent(xml::StreamEvent event) {
    if (auto* open = std::get_if<xml::StreamOpen>(&event)) {
        handleHeader(*open);
    } else if (auto* element = std::get_if<xml::Element>(&event)) {
        if (state_ == State::ExpectHeader) {
            streamError({StreamErrorCondition::NotWellFormed, "Expected a stream header", {}});
        } else {
            co_await handleElement(std::move(*element));
        }
    } else if (std::holds_alternative<xml::StreamClose>(event)) {
        // §4.4: answer the peer's close with ours, then close TCP.
        if (!closeTagSent_) {
            if (!headerSent_)
                sendHeader();
            writeQueued();
            out_.append("</stream:stream>");
            closeTagSent_ = true;
        }
        if (isBound())
            core_.endSession(*this);
        closeWhenFlushed_ = true;
        closingSince_ = core_.clock().now();
        state_ = State::Closing;
    } else if (auto* failure = std::get_if<xml::StreamFailure>(&event)) {
        streamError(streamErrorFor(failure->error, failure->detail));
    }
}

void C2sSession::handleHeader(const xml::StreamOpen& open) {
    // RFC 6120 §4.8.1: the stream namespace; §4.8.2: jabber:client as content namespace on c2s.
    if (open.name != "stream" || open.ns != ns::kStreams) {
        streamError({StreamErrorCondition::InvalidNamespace, "The stream element must be stream:stream", {}});
        return;
    }
    if (open.contentNs != ns::kClient) {
        streamError(
            {StreamErrorCondition::InvalidNamespace, "Client streams use the jabber:client namespace", {}});
        return;
    }
    // §4.7.2: `to` names the served domain. After a restart it must name the same one (CVE-2018-10847).
    std::string requested;
    if (const std::string* to = open.findAttr("to")) {
        if (auto prepared = prepareDomain(*to))
            requested = std::move(*prepared);
    }
    if (requested.empty() || !core_.host(requested)) {
        streamError({StreamErrorCondition::HostUnknown,
                     requested.empty() ? "The stream header must name a domain in 'to'"
                                       : "This server does not serve " + requested,
                     {}});
        return;
    }
    if (!host_.empty() && requested != host_) {
        streamError({StreamErrorCondition::HostUnknown, "The stream restart must keep the same domain", {}});
        return;
    }
    host_ = std::move(requested);
    // §4.7.5: version 1.0; a missing version means a pre-RFC 3920 client, which we do not support.
    const std::string_view version = open.attr("version");
    int major = 0;
    const auto dot = version.find('.');
    const auto [end, ec] =
        std::from_chars(version.data(), version.data() + (dot == version.npos ? version.size() : dot), major);
    if (version.empty() || ec != std::errc() || dot == version.npos || major != 1) {
        streamError({StreamErrorCondition::UnsupportedVersion, "This server speaks XMPP version 1.0", {}});
        return;
    }
    sendHeader();
    sendFeatures();
    state_ = authenticated_ && isBound() ? State::Bound : State::Negotiating;
}

void C2sSession::sendFeatures() {
    const bool startTlsListener = context_->listener.tls == TlsMode::StartTls;
    const bool tlsRequired = startTlsListener && context_->listener.requireTls;
    xml::Element features("features", std::string(ns::kStreams));
    StreamFeatureContext featureContext{host_, tls_, tlsRequired};
    if (!authenticated_) {
        if (!tls_ && startTlsListener && context_->tls) {
            // RFC 6120 §5.3.1/§5.4.1: offer STARTTLS, marked required by policy.
            xml::Element& starttls = features.append("starttls", std::string(ns::kTls));
            if (tlsRequired)
                starttls.append("required", std::string(ns::kTls));
        }
        if (tls_ || !tlsRequired) {
            sasl::ServerOptions options;
            options.tls = tls_;
            if (tls_) {
                auto bindings = connection_.channelBindings();
                options.channelBindings.tlsExporter = bindings.tlsExporter;
                options.channelBindings.tlsServerEndPoint = bindings.tlsServerEndPoint;
            }
            xml::Element& mechanisms = features.append("mechanisms", std::string(ns::kSasl));
            for (const std::string& name :
                 sasl::serverMechanisms(options, tls_ || core_.config().allowPlainWithoutTls)) {
                mechanisms.append("mechanism", std::string(ns::kSasl)).appendText(name);
            }
            // XEP-0440: which channel-binding types the -PLUS mechanisms accept.
            const auto types = sasl::channelBindingTypes(options);
            if (!types.empty()) {
                xml::Element& cb =
                    features.append("sasl-channel-binding", std::string(ns::kSaslChannelBinding));
                for (const std::string& type : types) {
                    cb.append("channel-binding", std::string(ns::kSaslChannelBinding)).setAttr("type", type);
                }
            }
            for (xml::Element& feature :
                 core_.modules().streamFeatures(StreamStage::PreAuth, featureContext)) {
                features.append(std::move(feature));
            }
        }
    } else {
        features.append("bind", std::string(ns::kBind));
        // RFC 6121 §1.4 dropped session establishment; offering it as optional keeps old clients working.
        features.append("session", std::string(ns::kSession)).append("optional", std::string(ns::kSession));
        for (xml::Element& feature : core_.modules().streamFeatures(StreamStage::PostAuth, featureContext)) {
            features.append(std::move(feature));
        }
    }
    // XEP-0478: the limits this stream enforces.
    xml::Element& limits = features.append("limits", std::string(ns::kStreamLimits));
    limits.append("max-bytes", std::string(ns::kStreamLimits))
        .appendText(std::to_string(core_.config().limits.maxStanzaBytes));
    limits.append("idle-seconds", std::string(ns::kStreamLimits))
        .appendText(std::to_string(core_.config().timeouts.idle.count()));
    // The features element is in the streams namespace; written with the stream: prefix.
    std::string body;
    for (const xml::Node& node : features.nodes()) {
        if (node.isElement())
            node.element().serializeTo(body, "jabber:client");
    }
    out_.append("<stream:features>").append(body).append("</stream:features>");
}

asio::awaitable<void> C2sSession::handleElement(xml::Element element) {
    const bool tlsRequired = context_->listener.tls == TlsMode::StartTls && context_->listener.requireTls;
    const std::string& ns = element.ns();
    if (ns == ns::kTls && element.name() == "starttls") {
        co_await handleStartTls();
        co_return;
    }
    if (ns == ns::kSasl) {
        if (authenticated_) {
            // Reliability row 26: SASL again after success is a protocol violation.
            streamError({StreamErrorCondition::PolicyViolation, "Already authenticated", {}});
        } else if (tlsRequired && !tls_) {
            sendSaslFailure("encryption-required", "Use STARTTLS first");
        } else if (element.name() == "auth") {
            co_await handleAuth(element);
        } else if (element.name() == "response") {
            co_await handleSaslResponse(element);
        } else if (element.name() == "abort") {
            mechanism_.reset();
            sendSaslFailure("aborted");  // RFC 6120 §6.4.4
        } else {
            streamError({StreamErrorCondition::UnsupportedStanzaType, "Unknown SASL element", {}});
        }
        co_return;
    }
    if (ns != ns::kClient) {
        // Stream-level elements of modules (ModuleContext::onStreamElement), once TLS is done if required.
        const StreamElementStage stage = !authenticated_          ? StreamElementStage::PreAuth
                                         : state_ == State::Bound ? StreamElementStage::Bound
                                                                  : StreamElementStage::PostAuth;
        const StreamElementHandler* handler =
            authenticated_ || tls_ || !tlsRequired ? core_.modules().findStreamElement(stage, ns) : nullptr;
        if (handler) {
            const StreamElementHandler run = *handler;  // not read again after a suspension point
            StreamElementRequest request{std::move(element), *this, stage, host_, username_};
            co_await run(std::move(request));
            co_return;
        }
        // §4.9.3.24: a first-level element we do not know.
        streamError({StreamErrorCondition::UnsupportedStanzaType,
                     "Unsupported element " + element.name() + " in " + element.ns(),
                     {}});
        co_return;
    }
    if (!authenticated_) {
        if (element.name() == "iq" && (tls_ || !tlsRequired)) {
            co_await handlePreAuthIq(std::move(element));
        } else {
            // §4.9.3.12: stanzas before authentication are not processed.
            streamError({StreamErrorCondition::NotAuthorized, "Authenticate first", {}});
        }
        co_return;
    }
    if (state_ != State::Bound) {
        auto stanza = xmpp::Stanza::fromElement(std::move(element));
        if (stanza && stanza->isIq() && stanza->iqType() == xmpp::IqType::Set && stanza->payload() &&
            stanza->payload()->is("bind", ns::kBind)) {
            co_await handleBind(std::move(*stanza));
        } else {
            // RFC 6120 §7.1: a client binds a resource before it sends stanzas.
            streamError({StreamErrorCondition::NotAuthorized, "Bind a resource first", {}});
        }
        co_return;
    }
    co_await handleStanza(std::move(element));
    if (state_ == State::Bound)
        core_.modules().fireStanzaHandled(*this);
}

asio::awaitable<void> C2sSession::handleStartTls() {
    if (tls_ || context_->listener.tls != TlsMode::StartTls || !context_->tls || authenticated_) {
        // RFC 6120 §5.4.2.2: <failure/>, then close the stream.
        out_.append("<failure xmlns='").append(ns::kTls).append("'/></stream:stream>");
        closeTagSent_ = true;
        closeWhenFlushed_ = true;
        state_ = State::Closing;
        closingSince_ = core_.clock().now();
        co_return;
    }
    out_.append("<proceed xmlns='").append(ns::kTls).append("'/>");
    const bool flushed = co_await flushFully();
    if (!flushed) {
        state_ = State::Closed;
        co_return;
    }
    // §5.4.3.3: anything the client sent after <starttls/> in plaintext is discarded.
    parser_.reset();
    const auto ec = co_await connection_.acceptTls(context_->tls->native());
    if (ec) {
        // §5.4.3.2: a failed handshake ends the TCP connection, without a stream error.
        c2sLog().debug("TLS handshake failed with " + describe() + ": " + ec.message());
        state_ = State::Closed;
        co_return;
    }
    tls_ = true;
    headerSent_ = false;
    state_ = State::ExpectHeader;
}

void C2sSession::sendSaslFailure(std::string_view condition, std::string_view text) {
    out_.append("<failure xmlns='").append(ns::kSasl).append("'><").append(condition).append("/>");
    if (!text.empty()) {
        std::string escaped;
        xml::appendEscapedText(escaped, text);
        out_.append("<text xml:lang='en'>").append(escaped).append("</text>");
    }
    out_.append("</failure>");
}

asio::awaitable<void> C2sSession::handleAuth(const xml::Element& auth) {
    sasl::ServerOptions options;
    options.tls = tls_;
    const std::string_view requested = auth.attr("mechanism");
    // The binding data (a TLS exporter and a certificate hash, ~3 % of a TLS login's server CPU) matter
    // only to a -PLUS exchange, and to the 'y'-flag check of strict mode; a plain SCRAM or PLAIN
    // exchange is offered and runs the same without them.
    if (tls_ && (requested.ends_with("-PLUS") || core_.config().strictChannelBinding)) {
        auto bindings = connection_.channelBindings();
        options.channelBindings.tlsExporter = std::move(bindings.tlsExporter);
        options.channelBindings.tlsServerEndPoint = std::move(bindings.tlsServerEndPoint);
    }
    // The 'y' downgrade check applies only in strict mode (see strict_channel_binding in the docs).
    options.plusAdvertised =
        core_.config().strictChannelBinding && tls_ && !sasl::channelBindingTypes(options).empty();
    options.fakeCredentialSecret = core_.credentialSecret();
    options.defaultIterations = core_.config().scramIterations;
    const std::string mechanismName(auth.attr("mechanism"));
    const auto offered = sasl::serverMechanisms(options, tls_ || core_.config().allowPlainWithoutTls);
    if (std::find(offered.begin(), offered.end(), mechanismName) == offered.end()) {
        sendSaslFailure(mechanismName == "PLAIN" ? "encryption-required" : "invalid-mechanism");
        co_return;
    }
    mechanism_ = sasl::makeServerMechanism(mechanismName, options);
    if (!mechanism_) {
        sendSaslFailure("invalid-mechanism");
        co_return;
    }
    // RFC 6120 §6.4.2: no text means no initial response; "=" means an empty one.
    const std::string text = auth.text();
    std::optional<std::string> initial;
    if (text == "=") {
        initial = std::string();
    } else if (!text.empty()) {
        initial = base64Decode(text);
        if (!initial) {
            mechanism_.reset();
            sendSaslFailure("incorrect-encoding");
            co_return;
        }
    }
    exchangeCheckedCredential_ = false;
    pendingStep_ = mechanism_->start(initial ? std::optional<std::string_view>(*initial) : std::nullopt);
    co_await driveSasl();
}

asio::awaitable<void> C2sSession::handleSaslResponse(const xml::Element& response) {
    if (!mechanism_) {
        sendSaslFailure("malformed-request", "No authentication exchange in progress");
        co_return;
    }
    const std::string text = response.text();
    auto data = text.empty() || text == "=" ? std::optional<std::string>(std::string()) : base64Decode(text);
    if (!data) {
        mechanism_.reset();
        sendSaslFailure("incorrect-encoding");
        co_return;
    }
    pendingStep_ = mechanism_->respond(*data);
    co_await driveSasl();
}

asio::awaitable<Result<std::optional<sasl::ScramCredential>, storage::StorageError>>
C2sSession::findCredential(std::string username, sasl::HashAlgorithm algorithm) {
    std::optional<sasl::ScramCredential> credential;
    auto user = prepareLocalpart(username);
    if (!user)
        co_return credential;  // a name no account can have: same answer as an unknown user
    auto account = co_await core_.storage().accounts().findAccount(host_, *user);
    if (!account)
        co_return account.error();
    if (*account) {
        for (const sasl::ScramCredential& stored : (*account)->credentials) {
            if (stored.algorithm == algorithm)
                credential = stored;
        }
    }
    co_return credential;
}

asio::awaitable<void> C2sSession::driveSasl() {
    while (mechanism_) {
        sasl::Step step = std::move(pendingStep_);
        if (auto* challenge = std::get_if<sasl::Challenge>(&step)) {
            out_.append(saslElement("challenge", challenge->data));
            co_return;
        }
        if (auto* need = std::get_if<sasl::NeedCredential>(&step)) {
            exchangeCheckedCredential_ = true;
            auto credential = co_await findCredential(need->username, need->algorithm);
            if (!credential) {
                mechanism_.reset();
                sendSaslFailure("temporary-auth-failure", "The account database is unavailable");  // §6.5.11
                co_return;
            }
            pendingStep_ = mechanism_->provideCredential(std::move(*credential));
            continue;
        }
        if (auto* check = std::get_if<sasl::NeedPasswordCheck>(&step)) {
            exchangeCheckedCredential_ = true;
            auto found = co_await findCredential(check->username, sasl::HashAlgorithm::Sha256);
            if (!found) {
                mechanism_.reset();
                sendSaslFailure("temporary-auth-failure", "The account database is unavailable");  // §6.5.11
                co_return;
            }
            std::optional<sasl::ScramCredential> credential = std::move(*found);
            // A password this credential has accepted before needs no PBKDF2 again (the cache is bound
            // to the credential, so a changed password misses). Only the right password can hit.
            sasl::VerifiedPasswordCache* cache = context_->plainCache.get();
            const std::string account = check->username + "@" + host_;
            if (credential && cache != nullptr && cache->contains(account, *credential, check->password)) {
                pendingStep_ = mechanism_->providePasswordCheck(true);
                continue;
            }
            // PLAIN costs one PBKDF2; it runs off the network loop, and an unknown user costs the same
            // as a wrong password (RFC 6120 §13.11).
            const std::string password = check->password;
            // A named lambda: GCC 12 destroys a capturing lambda temporary inside co_await twice.
            auto verify = [credential, password, secret = core_.credentialSecret(),
                           iterations = core_.config().scramIterations]() {
                if (credential)
                    return sasl::verifyPassword(*credential, password);
                auto fake = sasl::deriveScramCredential(sasl::HashAlgorithm::Sha256, secret,
                                                        "unknown-user-salt", iterations);
                (void)sasl::verifyPassword(fake, password);
                return false;
            };
            const bool ok = co_await offload(core_.cpuPool(), std::move(verify));
            if (ok && credential && cache != nullptr)
                cache->remember(account, *credential, password);
            pendingStep_ = mechanism_->providePasswordCheck(ok && credential.has_value());
            continue;
        }
        if (auto* success = std::get_if<sasl::Success>(&step)) {
            auto user = prepareLocalpart(success->username);
            const std::string bare = user ? *user + "@" + host_ : std::string();
            if (!user) {
                mechanism_.reset();
                sendSaslFailure("not-authorized");
                co_return;
            }
            // RFC 6120 §6.4.6: an authzid other than the user's own bare JID is refused.
            if (!success->authzid.empty()) {
                auto authz = Jid::parse(success->authzid);
                if (!authz || authz->str() != bare) {
                    mechanism_.reset();
                    sendSaslFailure("invalid-authzid");
                    co_return;
                }
            }
            out_.append(saslElement("success", success->additionalData));
            mechanism_.reset();
            authenticated_ = true;
            username_ = std::move(*user);
            if (context_->limits && preauthCounted_) {
                context_->limits->authenticated(connection_.remoteEndpoint().address());
                preauthCounted_ = false;
            }
            c2sLog().info(username_ + "@" + host_ + " authenticated from " + describe());
            // §6.4.6: the stream restarts; the parser starts afresh, the host stays fixed.
            parser_.reset();
            headerSent_ = false;
            state_ = State::ExpectHeader;
            co_return;
        }
        if (auto* fail = std::get_if<sasl::Fail>(&step)) {
            mechanism_.reset();
            // Only attempts that were checked against a credential count as guesses; a client trying
            // a channel-binding type we lack (slixmpp's tls-unique on TLS 1.3) moves on for free.
            if (exchangeCheckedCredential_)
                ++saslFailures_;
            sendSaslFailure(sasl::toString(fail->failure), fail->text);
            // RFC 6120 §6.4.5: a bounded number of retries, then the stream is closed.
            if (saslFailures_ >= core_.config().limits.saslMaxFailures) {
                streamError(
                    {StreamErrorCondition::PolicyViolation, "Too many failed authentication attempts", {}});
            }
            co_return;
        }
    }
}

asio::awaitable<void> C2sSession::handlePreAuthIq(xml::Element element) {
    auto stanza = xmpp::Stanza::fromElement(std::move(element));
    if (!stanza) {
        streamError({StreamErrorCondition::NotAuthorized, "Authenticate first", {}});
        co_return;
    }
    const xml::Element* payload = stanza->payload();
    const PreAuthIqHandler* handler =
        payload && (stanza->iqType() == xmpp::IqType::Get || stanza->iqType() == xmpp::IqType::Set)
            ? core_.modules().findPreAuthIq(payload->ns(), payload->name())
            : nullptr;
    if (!handler) {
        streamError({StreamErrorCondition::NotAuthorized, "Authenticate first", {}});
        co_return;
    }
    const std::string id(stanza->id());
    PreAuthIqRequest request{*stanza, host_, connection_.remoteEndpoint().address(), tls_};
    IqResult result = co_await (*handler)(std::move(request));
    xml::Element reply("iq", std::string(ns::kClient));
    reply.setAttr("id", id);
    if (result) {
        reply.setAttr("type", "result");
        if (*result)
            reply.append(std::move(**result));
    } else {
        reply.setAttr("type", "error");
        if (payload)
            reply.append(*payload);
        reply.append(result.error().toElement());
    }
    sendElement(reply);
}

asio::awaitable<void> C2sSession::handleBind(xmpp::Stanza stanza) {
    const std::string id(stanza.id());
    auto bindError = [&](xmpp::StanzaErrorCondition condition, std::string text) {
        xml::Element reply("iq", std::string(ns::kClient));
        reply.setAttr("id", id);
        reply.setAttr("type", "error");
        reply.append(xmpp::StanzaError(condition, std::move(text)).toElement());
        sendElement(reply);
    };
    // RFC 6120 §7.6: the client may propose a resource; otherwise we make one.
    std::string resource = stanza.payload()->childText("resource", ns::kBind);
    if (resource.empty())
        resource = randomId(12);
    auto full = Jid::make(username_, host_, resource);
    if (!full) {
        bindError(xmpp::StanzaErrorCondition::BadRequest, "Invalid resource");  // §7.7.2.1
        co_return;
    }
    setJid(*full);
    auto outcome = core_.sessions().bind(shared_from_this(), core_.config().limits.maxResourcesPerAccount);
    if (!outcome.bound) {
        clearJid();
        bindError(xmpp::StanzaErrorCondition::ResourceConstraint,
                  "Too many resources for this account");  // §7.6.2.1
        co_return;
    }
    if (outcome.replaced) {
        // §7.7.2.2: the older session with this resource is terminated with <conflict/>.
        outcome.replaced->close({StreamErrorCondition::Conflict, "Replaced by a new connection", {}});
    }
    state_ = State::Bound;
    core_.sessionBound(*this);
    xml::Element reply("iq", std::string(ns::kClient));
    reply.setAttr("id", id);
    reply.setAttr("type", "result");
    reply.append("bind", std::string(ns::kBind))
        .append("jid", std::string(ns::kBind))
        .appendText(full->str());
    sendElement(reply);
    c2sLog().debug("bound " + full->str());
    co_return;
}

void C2sSession::replyError(const xml::Element& request, xmpp::StanzaErrorCondition condition,
                            std::string text) {
    // Never answer an error or an iq result (RFC 6120 §8.3.1, §8.2.3).
    const std::string_view type = request.attr("type");
    if (type == "error" || (request.name() == "iq" && type == "result"))
        return;
    xml::Element reply(request.name(), std::string(ns::kClient));
    if (request.hasAttr("id"))
        reply.setAttr("id", std::string(request.attr("id")));
    reply.setAttr("type", "error");
    reply.setAttr("to", jid().str());
    if (auto to = Jid::parse(request.attr("to")))
        reply.setAttr("from", to->str());
    reply.append(xmpp::StanzaError(condition, std::move(text)).toElement());
    sendStanza(std::move(reply));
}

asio::awaitable<void> C2sSession::handleStanza(xml::Element element) {
    // §8.1.2.1: a `from` other than the client's own full or bare JID is refused.
    if (const std::string* from = element.findAttr("from")) {
        auto parsed = Jid::parse(*from);
        if (!parsed || (*parsed != jid() && parsed->str() != jid().bareView())) {
            streamError({StreamErrorCondition::InvalidFrom, "The from address is not yours", {}});
            co_return;
        }
    }
    // On failure fromElement leaves `element` intact, so it can be answered with an error (RFC 6120
    // §8.3.3.8 jid-malformed, §8.2.3 bad-request) without copying anything on the normal path.
    auto stanza = xmpp::Stanza::fromElement(std::move(element));
    if (!stanza) {
        if (stanza.error() == xmpp::Stanza::Problem::BadTo) {
            replyError(element, xmpp::StanzaErrorCondition::JidMalformed, "Malformed to address");
            co_return;
        }
        if (stanza.error() == xmpp::Stanza::Problem::BadIq) {
            replyError(element, xmpp::StanzaErrorCondition::BadRequest, "Malformed iq");
            co_return;
        }
        switch (stanza.error()) {
            case xmpp::Stanza::Problem::NotAStanza:
                streamError({StreamErrorCondition::UnsupportedStanzaType, "Not a stanza", {}});
                co_return;
            case xmpp::Stanza::Problem::BadFrom:
                streamError({StreamErrorCondition::InvalidFrom, "Malformed from address", {}});
                co_return;
            case xmpp::Stanza::Problem::BadTo:
            case xmpp::Stanza::Problem::BadIq:
                break;
        }
        co_return;
    }
    stanza->setFrom(jid());
    if (stanza->isIq() && stanza->iqType() == xmpp::IqType::Set && stanza->payload() && !stanza->to()) {
        if (stanza->payload()->is("session", ns::kSession)) {
            // RFC 3921 §3 session establishment is a no-op today (RFC 6121 §1.4).
            sendStanza(xmpp::makeIqResult(*stanza, std::nullopt).element());
            co_return;
        }
        if (stanza->payload()->is("bind", ns::kBind)) {
            core_.router().bounce(*stanza, xmpp::StanzaError(xmpp::StanzaErrorCondition::NotAllowed,
                                                             "A resource is already bound"));
            co_return;
        }
    }
    bool wasAvailable = false;
    bool isBroadcastPresence = false;
    if (stanza->isPresence() && !stanza->to()) {
        // Broadcast presence sets this resource's availability and priority (RFC 6121 §4.2, §4.7.2.3).
        const std::string_view type = stanza->type();
        if (type.empty() || type == "unavailable") {
            int priority = 0;
            const std::string text = stanza->element().childText("priority", ns::kClient);
            if (!text.empty()) {
                int value = 0;
                auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
                if (ec == std::errc() && ptr == text.data() + text.size() && value >= -128 && value <= 127) {
                    priority = value;
                }
            }
            wasAvailable = isAvailable();
            isBroadcastPresence = true;
            setPresence(type.empty(), priority);
        }
    }
    auto routed = std::make_shared<const xmpp::Stanza>(std::move(*stanza));
    if (isBroadcastPresence)
        setLastPresence(isAvailable() ? routed : nullptr);
    const bool isPresence = routed->isPresence();
    // Stanzas from one client are routed in order (RFC 6120 §10.1): the next waits for this one.
    co_await core_.router().routeFromClient(*this, std::move(routed), wasAvailable);
    if (isPresence) {
        // Presence floods: past limits.presence_per_second this session stops reading (and handling
        // what it already read) for a while; nothing is dropped.
        presenceLimiter_.onRead(1);
        for (;;) {
            const auto pause = presenceLimiter_.pause(core_.clock().now());
            if (pause.count() <= 0 || state_ != State::Bound)
                break;
            // Wait in short steps and look at the clock again, so that the wait follows the server's
            // clock (a FakeClock in tests) and a session closed meanwhile stops waiting.
            flush();
            asio::steady_timer timer(executor_,
                                     std::min<std::chrono::milliseconds>(pause, kPresencePauseStep));
            co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        }
    }
}

}  // namespace parley::server
