//! [`MessageStatus`] and the forward-only merge rule for outbound messages.
//!
//! Meta delivers status webhooks late, twice and out of order (spec/cloud-api.md §3.3, §7.3):
//! `read` can arrive without `delivered`, and a `delivered` can arrive after `read`. The stored
//! status therefore only moves forward, and [`MessageStatus::accepts`] is the one place that
//! says what "forward" means; the store derives its SQL from it.

use super::named_enum;

named_enum! {
    /// Where an outbound message is on its way to the customer.
    ///
    /// Order: `pending < sent < delivered < read`; `played` (a voice message was played) ranks
    /// with `read` and is never replaced by it. `failed` is terminal for webhooks: only a new send
    /// attempt ([`MessageStatus::reset_for_new_attempt`]) leaves it.
    pub enum MessageStatus as "message status" {
        /// Accepted by us, not yet acknowledged by Meta.
        Pending = "pending",
        /// Sent from Meta's servers (one tick).
        Sent = "sent",
        /// On the customer's device (two ticks).
        Delivered = "delivered",
        /// Displayed in an open chat (blue ticks).
        Read = "read",
        /// A voice message was played.
        Played = "played",
        /// Could not be sent or delivered.
        Failed = "failed",
    }
}

impl MessageStatus {
    /// Position on the forward path; `failed` is off the path (see [`Self::accepts`]).
    fn rank(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::Sent => 1,
            Self::Delivered => 2,
            Self::Read => 3,
            Self::Played => 4,
            Self::Failed => 5,
        }
    }

    /// Whether a message whose status is `self` moves to `incoming` when that status arrives.
    ///
    /// - Forward moves only: a late `delivered` never overwrites `read`; equal is no move.
    /// - `played` may follow `read` (it says more), but `read` never replaces `played`.
    /// - `failed` applies only before delivery (`pending`, `sent`): a message on the device
    ///   did reach it, so a contradictory late failure is kept in the history only.
    /// - Nothing moves a `failed` message: a retry is a new attempt, not a webhook.
    pub fn accepts(self, incoming: MessageStatus) -> bool {
        match (self, incoming) {
            (Self::Failed, _) => false,
            (current, Self::Failed) => matches!(current, Self::Pending | Self::Sent),
            (current, incoming) => incoming.rank() > current.rank(),
        }
    }

    /// The status after `incoming` arrives, or `None` if it changes nothing (stale or equal).
    /// A message with no status yet takes any incoming status.
    pub fn merge(current: Option<Self>, incoming: Self) -> Option<Self> {
        match current {
            None => Some(incoming),
            Some(current) if current.accepts(incoming) => Some(incoming),
            Some(_) => None,
        }
    }

    /// Every status from which `incoming` is accepted (the store turns this into a SQL `IN`).
    pub fn accepted_from(incoming: Self) -> impl Iterator<Item = Self> {
        Self::ALL
            .iter()
            .copied()
            .filter(move |c| c.accepts(incoming))
    }

    /// The status of a message when a new send attempt starts (the only way out of `failed`).
    pub fn reset_for_new_attempt(self) -> Self {
        Self::Pending
    }

    /// Whether the message got to the customer's device.
    pub fn is_delivered(self) -> bool {
        matches!(self, Self::Delivered | Self::Read | Self::Played)
    }

    /// Parses Meta's spellings, case-insensitively: the `statuses[].status` values and the
    /// upper-case `history_context.status` values (`ERROR` means failed).
    pub fn from_meta(value: &str) -> Option<Self> {
        let lower = value.to_ascii_lowercase();
        match lower.as_str() {
            "error" => Some(Self::Failed),
            other => other.parse().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MessageStatus::{self, *};

    #[test]
    fn forward_path() {
        assert!(Pending.accepts(Sent));
        assert!(Sent.accepts(Delivered));
        assert!(Delivered.accepts(Read));
        assert!(Read.accepts(Played));
        assert!(!Sent.accepts(Sent));
        assert!(!Sent.accepts(Pending));
    }

    #[test]
    fn late_delivered_never_overwrites_read() {
        assert!(!Read.accepts(Delivered));
        assert!(!Read.accepts(Sent));
        assert!(!Played.accepts(Read));
        assert!(!Played.accepts(Delivered));
        assert_eq!(MessageStatus::merge(Some(Read), Delivered), None);
    }

    #[test]
    fn read_without_delivered() {
        assert_eq!(MessageStatus::merge(Some(Sent), Read), Some(Read));
        assert_eq!(MessageStatus::merge(Some(Pending), Read), Some(Read));
        assert_eq!(MessageStatus::merge(None, Read), Some(Read));
    }

    #[test]
    fn failed_is_terminal_and_only_before_delivery() {
        assert!(Pending.accepts(Failed));
        assert!(Sent.accepts(Failed));
        assert!(!Delivered.accepts(Failed));
        assert!(!Read.accepts(Failed));
        for s in MessageStatus::ALL {
            assert!(!Failed.accepts(*s), "failed must not move to {s}");
        }
        assert_eq!(Failed.reset_for_new_attempt(), Pending);
        assert!(Pending.accepts(Sent));
    }

    #[test]
    fn any_arrival_order_ends_at_the_furthest_status() {
        // Every permutation of sent/delivered/read ends at read.
        let orders = [
            [Sent, Delivered, Read],
            [Sent, Read, Delivered],
            [Delivered, Sent, Read],
            [Delivered, Read, Sent],
            [Read, Sent, Delivered],
            [Read, Delivered, Sent],
        ];
        for order in orders {
            let mut current = Some(Pending);
            for s in order {
                if let Some(next) = MessageStatus::merge(current, s) {
                    current = Some(next);
                }
            }
            assert_eq!(current, Some(Read), "{order:?}");
        }
    }

    #[test]
    fn accepted_from_lists_predecessors() {
        let from: Vec<_> = MessageStatus::accepted_from(Delivered).collect();
        assert_eq!(from, vec![Pending, Sent]);
        let from: Vec<_> = MessageStatus::accepted_from(Failed).collect();
        assert_eq!(from, vec![Pending, Sent]);
        assert_eq!(MessageStatus::accepted_from(Pending).count(), 0);
    }

    #[test]
    fn meta_spellings() {
        assert_eq!(MessageStatus::from_meta("READ"), Some(Read));
        assert_eq!(MessageStatus::from_meta("PLAYED"), Some(Played));
        assert_eq!(MessageStatus::from_meta("ERROR"), Some(Failed));
        assert_eq!(MessageStatus::from_meta("delivered"), Some(Delivered));
        assert_eq!(MessageStatus::from_meta("deleted"), None);
        assert_eq!("sent".parse::<MessageStatus>().unwrap(), Sent);
        assert_eq!(serde_json::to_string(&Read).unwrap(), "\"read\"");
    }
}
