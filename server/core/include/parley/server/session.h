#pragma once
// Session: what the router and modules see of a bound client connection. Every method is safe to call
// from any thread: deliver() and close() only enqueue and wake the coroutine that owns the connection
// (docs/STYLE.md rule 6). The fields are documented in docs/ARCHITECTURE.md "Sessions".
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parley/jid/jid.h"
#include "parley/xml/element.h"
#include "parley/xmpp/errors.h"
#include "parley/xmpp/stanza.h"

namespace parley::server {

// A module's per-session state, kept in the slot the module allocated (ModuleContext::allocateSessionSlot).
class SessionData {
  public:
    virtual ~SessionData() = default;
};

class Session : public std::enable_shared_from_this<Session> {
  public:
    virtual ~Session() {
        for (std::size_t i = 0; i < slotCount_; ++i)
            delete data_[i].load(std::memory_order_relaxed);
    }

    // Queues a stanza for this client. Never blocks; a session whose queue passes its bound is closed
    // with <policy-violation/> rather than growing without limit.
    virtual void deliver(xmpp::StanzaPtr stanza) = 0;
    // Sends a stream error after what is already queued, closes the stream, and unbinds the session.
    virtual void close(xmpp::StreamError error) = 0;
    // Calls `done` on the session's loop once everything queued for this client so far has been handed
    // to it (written to its connection): done(true); or, when the session ends first, done(false).
    // Called exactly once. Lets a module keep a durable copy until the client has it (offline messages).
    virtual void whenWritten(std::function<void(bool written)> done) = 0;
    // A module that learns when the client actually has what was written (stream management's
    // acknowledgements) takes whenWritten over for this session: `keeper` gets each callback (on the
    // session's loop, after the stanzas queued before it went through the outbound filters) and calls
    // it with true once the client acknowledged them, or once the module took responsibility for them
    // again (routed them elsewhere); with false if neither can happen. Session's loop only.
    using WrittenKeeper = std::function<void(Session&, std::function<void(bool written)>)>;
    void setWrittenKeeper(WrittenKeeper keeper) { writtenKeeper_ = std::move(keeper); }

    // The bound full JID; set once at bind time, before the session is visible to others.
    const Jid& jid() const noexcept { return *jid_; }
    bool isBound() const noexcept { return jid_ != nullptr; }
    std::uint64_t id() const noexcept { return id_; }

    // Presence state that routing reads (RFC 6121 §8.5): whether the resource sent available presence,
    // and its priority (-128..127).
    bool isAvailable() const noexcept { return available_.load(std::memory_order_relaxed); }
    int priority() const noexcept { return priority_.load(std::memory_order_relaxed); }
    void setPresence(bool available, int priority) noexcept {
        priority_.store(priority, std::memory_order_relaxed);
        available_.store(available, std::memory_order_relaxed);
    }

    // The last broadcast available presence of this resource (RFC 6121 §4.4.2: what probes are
    // answered with), or null. Readable from any thread.
    xmpp::StanzaPtr lastPresence() const noexcept { return lastPresence_.load(std::memory_order_acquire); }
    void setLastPresence(xmpp::StanzaPtr presence) noexcept {
        lastPresence_.store(std::move(presence), std::memory_order_release);
    }

    // Per-module state (see SessionData) in the slot the module allocated. Publishing is atomic, so
    // another loop may read a slot (e.g. a flag kept in atomics); SessionData members need their own
    // synchronisation if other loops touch them.
    SessionData* data(std::size_t slot) const noexcept {
        return slot < slotCount_ ? data_[slot].load(std::memory_order_acquire) : nullptr;
    }
    template <class T>
    T& dataOrCreate(std::size_t slot) {
        if (auto* existing = static_cast<T*>(data(slot)))
            return *existing;
        auto* created = new T();
        data_[slot].store(created, std::memory_order_release);
        return *created;
    }

    // Human-readable transport facts for logs and the admin listing ("c2s tls 127.0.0.1:5000").
    virtual std::string describe() const = 0;

    // --- stream extension points (docs/ARCHITECTURE.md "Sessions") -------------------------------
    // Writes a stream-level element that is not a stanza (a "nonza") after what is already queued.
    // Call on the session's loop. Outbound stanza filters do not see it.
    virtual void sendNonza(const xml::Element& element) = 0;
    // Writes stanzas that an outbound filter of priority `filterPriority` held back (FilterVerdict::Hold),
    // now and in this order, through the filters of lower priority only. Session's loop.
    virtual void writeHeld(std::vector<xmpp::StanzaPtr> stanzas, int filterPriority) = 0;
    // How long a bound session stays bound after its connection is lost without a closing tag
    // (0, the default: it ends at once). While detached it keeps its place in the registry and its
    // presence, and the stanzas delivered to it go through the outbound filters (which keep them);
    // a new connection of the same account may take it over with takeOver(). Session's loop only.
    void setDetachTimeout(std::chrono::seconds timeout) noexcept { detachTimeout_ = timeout; }
    std::chrono::seconds detachTimeout() const noexcept { return detachTimeout_; }
    // The connection is lost and the session waits for a new one (readable from any thread).
    bool isDetached() const noexcept { return detached_.load(std::memory_order_acquire); }
    // On an authenticated stream that has not bound a resource: takes over `previous`, a session of
    // the same account (detached, or still connected: its connection is then cut). This stream gets
    // its JID, presence, module state and place in the registry; `previous` never ends (no
    // SessionEnded hooks) and forwards what still reaches it. `onTakenOver` runs on this session's
    // loop right after, before anything queued for it meanwhile, so that it can write first.
    // False (nothing changed) if `previous` already ended, was taken over, or is another account's.
    virtual boost::asio::awaitable<bool> takeOver(std::shared_ptr<Session> previous,
                                                  std::function<void(Session&)> onTakenOver) = 0;

  protected:
    // `slots`: how many module slots to make room for (ModuleHost::sessionSlotCount()).
    Session(std::uint64_t id, std::size_t slots)
        : id_(id), slotCount_(slots), data_(slots ? new std::atomic<SessionData*>[slots]() : nullptr) {}

    // Set before the session is bound (visible to others); cleared again if binding fails.
    void setJid(Jid jid) { jid_ = std::make_unique<Jid>(std::move(jid)); }
    void clearJid() { jid_.reset(); }
    void setDetached(bool detached) noexcept { detached_.store(detached, std::memory_order_release); }
    // Moves what others see of `previous` into this session (not yet visible to others): JID,
    // presence, detach timeout and every module slot. Run on `previous`'s loop, which owns the slots.
    void adoptFrom(Session& previous) {
        if (previous.jid_)
            jid_ = std::make_unique<Jid>(*previous.jid_);
        setPresence(previous.isAvailable(), previous.priority());
        setLastPresence(previous.lastPresence());
        detachTimeout_ = previous.detachTimeout_;
        writtenKeeper_ = previous.writtenKeeper_;
        for (std::size_t i = 0; i < slotCount_ && i < previous.slotCount_; ++i) {
            delete data_[i].exchange(previous.data_[i].exchange(nullptr, std::memory_order_acq_rel),
                                     std::memory_order_acq_rel);
        }
    }

    WrittenKeeper writtenKeeper_;  // see setWrittenKeeper

  private:
    std::uint64_t id_;
    std::unique_ptr<Jid> jid_;
    std::atomic<bool> available_{false};
    std::atomic<int> priority_{0};
    std::atomic<xmpp::StanzaPtr> lastPresence_;
    std::size_t slotCount_;
    std::unique_ptr<std::atomic<SessionData*>[]> data_;
    std::chrono::seconds detachTimeout_{0};
    std::atomic<bool> detached_{false};

    friend class ServerCore;
    std::atomic<bool> ended_{false};  // the SessionEnded hooks ran (ServerCore::endSession)
};

using SessionPtr = std::shared_ptr<Session>;

}  // namespace parley::server
