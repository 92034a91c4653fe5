#pragma once
// Mailbox sizes that any thread may read. In CAF 0.17 only an actor itself can read its mailbox's
// size (fifo_inbox::size() moves what arrived into its own queue), so the node had to ask each
// actor, and a busy actor answered only once it got a scheduler thread: at full ingest that held
// `status` and `/metrics` for 0.2-0.5 s at the median (perf/README.md, eighteenth session).
// counted<Base> counts what enters its mailbox and what its behaviour takes out, in atomics that
// outlive the actor (they are shared), so that the node reads every mailbox at once.
//
//   using node_actor = counted<caf::stateful_actor<node_state>>;  // the self pointer's type is
//   caf::behavior node_behavior(node_actor* self, ...);              // what CAF spawns

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include <caf/abstract_actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/invoke_message_result.hpp>
#include <caf/mailbox_element.hpp>

namespace p2p {

/// Messages in and out of one actor's mailbox.
struct mailbox_counts {
  // On lines of their own: senders write the one, the actor the other.
  alignas(64) std::atomic<uint64_t> entered{0}; // enqueued, high priority and responses included
  alignas(64) std::atomic<uint64_t> taken{0};   // taken out by the behaviour (handled or dropped; not skipped)

  /// Messages waiting now, not counting the one being handled. Read `taken` first: what enters
  /// meanwhile only adds, so the figure never goes below 0.
  [[nodiscard]] uint64_t waiting() const {
    auto out = taken.load(std::memory_order_acquire);
    auto in = entered.load(std::memory_order_acquire);
    return in > out ? in - out : 0;
  }
};

/// Something that keeps mailbox counts, found from an actor handle (see mailbox_counts_of).
class has_mailbox_counts {
public:
  virtual ~has_mailbox_counts() = default;
  [[nodiscard]] const std::shared_ptr<mailbox_counts>& counts() const { return counts_; }

protected:
  std::shared_ptr<mailbox_counts> counts_ = std::make_shared<mailbox_counts>();
};

/// A CAF actor class that counts its mailbox. Base: caf::stateful_actor<State> or a typed
/// actor's stateful_base<State>.
template <class Base>
class counted : public Base, public has_mailbox_counts {
public:
  using Base::Base;
  using Base::enqueue;

  void enqueue(caf::mailbox_element_ptr what, caf::execution_unit* host) override {
    // Counted before the push: the actor may take it out at once, on another thread.
    counts_->entered.fetch_add(1, std::memory_order_release);
    Base::enqueue(std::move(what), host);
  }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    // Counted before the handler runs, so that it does not count itself as waiting; a message
    // the behaviour skips stays in the mailbox.
    counts_->taken.fetch_add(1, std::memory_order_release);
    auto result = Base::consume(x);
    if (result == caf::invoke_message_result::skipped)
      counts_->taken.fetch_sub(1, std::memory_order_release);
    return result;
  }
};

/// The counts of the actor behind `handle`; null when it is not a counted<...> (or no actor).
template <class Handle>
std::shared_ptr<const mailbox_counts> mailbox_counts_of(const Handle& handle) {
  if (!handle)
    return nullptr;
  auto* actor = caf::actor_cast<caf::abstract_actor*>(handle);
  if (auto* counted_one = dynamic_cast<has_mailbox_counts*>(actor))
    return counted_one->counts();
  return nullptr;
}

} // namespace p2p
