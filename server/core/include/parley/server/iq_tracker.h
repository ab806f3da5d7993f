#pragma once
// IqTracker: iq requests that the server itself sends, and the coroutines that await their answers.
// RFC 6120 §8.2.3: every iq get/set is answered by exactly one result or error with the same id, from
// the entity it was sent to. The tracker gives each request a fresh random id, remembers who must
// answer it, hands the matching answer to the coroutine that awaits it (on that coroutine's own
// executor), and gives up after a timeout measured with the server's Clock, so that tests move time
// instead of sleeping (docs/STYLE.md rule 8). It names no payload: modules decide what to ask.
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "parley/base/result.h"
#include "parley/server/clock.h"
#include "parley/xmpp/stanza.h"

namespace parley::server {

namespace asio = boost::asio;

// Why a request got no answer.
enum class IqFailure : std::uint8_t {
    Timeout,  // nothing came back in time
};
// The answer (an iq of type result or error, from the addressee), or why there is none.
using IqAnswer = Result<xmpp::StanzaPtr, IqFailure>;

class IqTracker {
  public:
    explicit IqTracker(const Clock& clock) : clock_(clock) {}
    ~IqTracker();
    IqTracker(const IqTracker&) = delete;
    IqTracker& operator=(const IqTracker&) = delete;

    // Sends `request` (an iq get or set with `to` and `from` set; its id is replaced by a fresh one)
    // through `send`, and completes with its answer, or with Timeout once the Clock has passed
    // `timeout` from now. Runs `send` after the answer can be matched, so an answer that comes
    // back at once is not missed.
    asio::awaitable<IqAnswer> request(xmpp::Stanza request, std::chrono::nanoseconds timeout,
                                      std::function<void(xmpp::StanzaPtr)> send);

    // Offers an iq result or error that reached the server: true when it answers a pending request
    // (same id, and `from` is the address the request went to), which then completes. Any thread.
    bool complete(const xmpp::StanzaPtr& answer);

    // Completes every request whose deadline is at or before `now` with Timeout. Each request checks
    // this once a second on its own loop; tests call it after moving a FakeClock.
    void expire(Clock::TimePoint now);

    std::size_t pendingForTest() const;

  private:
    struct Pending {
        std::string from;  // the address that must answer (the request's `to`)
        Clock::TimePoint deadline;
        asio::any_io_executor executor;
        asio::any_completion_handler<void(IqAnswer)> handler;
    };
    static void finish(Pending pending, IqAnswer answer);
    void tick(std::string id, asio::any_io_executor executor);

    const Clock& clock_;
    mutable std::mutex mutex_;
    std::map<std::string, Pending, std::less<>> pending_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace parley::server
