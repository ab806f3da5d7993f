#include "parley/server/iq_tracker.h"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

#include "parley/base/random.h"

namespace parley::server {

namespace {
// How often a waiting request looks at the Clock. The Clock decides when it expires; this only bounds
// how late the timeout is noticed with a real clock.
constexpr std::chrono::seconds kTick{1};
}  // namespace

IqTracker::~IqTracker() {
    *alive_ = false;
}

void IqTracker::finish(Pending pending, IqAnswer answer) {
    // Resume the awaiting coroutine on its own executor: at once when the answer is matched on that
    // loop (so that what the answer teaches is known before the answerer's next stanza is handled),
    // else posted there, never run on another loop's thread.
    asio::dispatch(pending.executor,
                   [handler = std::move(pending.handler), answer = std::move(answer)]() mutable {
                       std::move(handler)(std::move(answer));
                   });
}

asio::awaitable<IqAnswer> IqTracker::request(xmpp::Stanza request, std::chrono::nanoseconds timeout,
                                             std::function<void(xmpp::StanzaPtr)> send) {
    // The initiation runs once the caller waits, so the handler is stored before `send` lets the
    // answer race back from another loop.
    auto initiation = [this, timeout](auto handler, xmpp::Stanza stanza,
                                      std::function<void(xmpp::StanzaPtr)> sender) {
        // A fresh unguessable id per request (RFC 6120 §8.1.3), so that no other stanza can answer it.
        std::string id = "parley-" + randomId(20);
        xml::Element element = stanza.element();
        element.setAttr("id", id);
        auto prepared = std::make_shared<const xmpp::Stanza>(xmpp::StanzaKind::Iq, std::move(element),
                                                             stanza.to(), stanza.from());
        auto executor =
            asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
        asio::any_io_executor timerExecutor = asio::get_associated_executor(handler);
        {
            std::lock_guard lock(mutex_);
            pending_.emplace(id, Pending{stanza.to() ? stanza.to()->str() : std::string(),
                                         clock_.now() + timeout, executor, std::move(handler)});
        }
        tick(id, std::move(timerExecutor));
        sender(std::move(prepared));
    };
    // Not a coroutine itself (as WorkerThread::runOnWorker): no lambda temporary lives inside a
    // co_await expression (docs/STYLE.md rule 16).
    return asio::async_initiate<const asio::use_awaitable_t<>, void(IqAnswer)>(
        std::move(initiation), asio::use_awaitable, std::move(request), std::move(send));
}

void IqTracker::tick(std::string id, asio::any_io_executor executor) {
    auto timer = std::make_shared<asio::steady_timer>(executor, kTick);
    timer->async_wait([this, alive = std::weak_ptr<bool>(alive_), timer, id = std::move(id),
                       executor](const boost::system::error_code& ec) mutable {
        auto stillAlive = alive.lock();
        if (ec || !stillAlive || !*stillAlive)
            return;
        std::optional<Pending> expired;
        {
            std::lock_guard lock(mutex_);
            auto it = pending_.find(id);
            if (it == pending_.end())
                return;  // answered meanwhile
            if (clock_.now() >= it->second.deadline) {
                expired = std::move(it->second);
                pending_.erase(it);
            }
        }
        if (expired) {
            finish(std::move(*expired), IqAnswer(boost::system::in_place_error, IqFailure::Timeout));
            return;
        }
        tick(std::move(id), std::move(executor));
    });
}

bool IqTracker::complete(const xmpp::StanzaPtr& answer) {
    if (!answer->isIq() ||
        (answer->iqType() != xmpp::IqType::Result && answer->iqType() != xmpp::IqType::Error))
        return false;
    std::optional<Pending> matched;
    {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(answer->id());
        if (it == pending_.end())
            return false;
        // RFC 6120 §8.2.3: the answer comes from the entity the request was sent to; anyone else
        // who guessed the id does not complete it.
        const std::string from = answer->from() ? answer->from()->str() : std::string();
        if (from != it->second.from)
            return false;
        matched = std::move(it->second);
        pending_.erase(it);
    }
    finish(std::move(*matched), answer);
    return true;
}

void IqTracker::expire(Clock::TimePoint now) {
    std::vector<Pending> expired;
    {
        std::lock_guard lock(mutex_);
        for (auto it = pending_.begin(); it != pending_.end();) {
            if (now >= it->second.deadline) {
                expired.push_back(std::move(it->second));
                it = pending_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (Pending& pending : expired)
        finish(std::move(pending), IqAnswer(boost::system::in_place_error, IqFailure::Timeout));
}

std::size_t IqTracker::pendingForTest() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
}

}  // namespace parley::server
