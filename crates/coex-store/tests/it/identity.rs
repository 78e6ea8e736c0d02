//! Customer identity: BSUID and phone as two keys of one contact (spec/cloud-api.md §10.6).

use coex_core::model::*;
use coex_store::Store;

use crate::harness::*;

const PABLO: &str = "16505551234";
const PABLO_ID: &str = "US.13491208655302741918";
const PABLO_NEW_ID: &str = "US.20571936648120033617";
const ALICE: &str = "16505550042";

both!(phone_only_contact_merges_into_the_bsuid_one, |db| async {
    let f = db.fixture().await;
    // Pre-BSUID history: phone only. Then a BSUID-only message (username user), then one
    // carrying both: all three are one person.
    db.apply(vec![inbound(
        "wamid.p1",
        by_phone(PABLO),
        1_000,
        "old times",
    )])
    .await;
    db.apply(vec![inbound(
        "wamid.b1",
        by_bsuid(PABLO_ID),
        2_000,
        "via username",
    )])
    .await;
    let before = db
        .store
        .list_conversations(&number(), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(before.items.len(), 2);

    let s = db
        .apply(vec![inbound(
            "wamid.both",
            by_both(PABLO_ID, PABLO),
            3_000,
            "both",
        )])
        .await;
    assert_eq!(s.contacts_merged, 1);

    let convs = db
        .store
        .list_conversations(&number(), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(convs.items.len(), 1);
    let v = &convs.items[0];
    assert_eq!(v.conversation.message_count, 3);
    assert_eq!(v.conversation.last_inbound_at, Some(t(3_000)));
    assert_eq!(v.contact.bsuid.as_ref().unwrap().as_str(), PABLO_ID);
    assert_eq!(v.contact.phone.as_ref().unwrap().digits(), PABLO);
    for wamid in ["wamid.p1", "wamid.b1", "wamid.both"] {
        assert_eq!(db.message(wamid).await.conversation, v.conversation.id);
    }
    let by_phone_lookup = db
        .store
        .find_contact(f.ws.id, &CustomerKey::Phone(phone(PABLO)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_phone_lookup.id, v.contact.id);
    let feed = db
        .store
        .events_after(f.ws.id, EventSeq::new(0), 100)
        .await
        .unwrap();
    assert!(feed.iter().any(|e| e.kind == EventKind::ContactMerged));
});

both!(user_id_change_moves_history_to_the_new_id, |db| async {
    let f = db.fixture().await;
    db.apply(vec![inbound(
        "wamid.u1",
        by_both(PABLO_ID, PABLO),
        1_000,
        "before",
    )])
    .await;
    let old = db.conversation_of("wamid.u1").await;

    let change = Ingest::UserIdChanged(UserIdChange {
        number: number(),
        previous: bsuid(PABLO_ID),
        current: bsuid(PABLO_NEW_ID),
        phone: Some(phone("12195555358")),
        profile_name: Some("Pablo Morales".into()),
        timestamp: t(1_500),
    });
    let s = db.apply(vec![change.clone()]).await;
    assert_eq!(s.user_ids_changed, 1);
    // The same update again changes nothing.
    let s = db.apply(vec![change]).await;
    assert_eq!(s.user_ids_changed, 0);

    db.apply(vec![inbound(
        "wamid.u2",
        by_bsuid(PABLO_NEW_ID),
        2_000,
        "after",
    )])
    .await;
    // A late retry naming the old id lands on the same person.
    db.apply(vec![inbound(
        "wamid.u0",
        by_bsuid(PABLO_ID),
        900,
        "late retry",
    )])
    .await;

    let now = db.conversation_of("wamid.u2").await;
    assert_eq!(now.conversation.id, old.conversation.id);
    assert_eq!(now.conversation.message_count, 3);
    assert_eq!(
        db.conversation_of("wamid.u0").await.conversation.id,
        old.conversation.id
    );
    let c = &now.contact;
    assert_eq!(c.bsuid.as_ref().unwrap().as_str(), PABLO_NEW_ID);
    assert_eq!(c.previous_bsuids, vec![bsuid(PABLO_ID)]);
    assert_eq!(c.phone.as_ref().unwrap().digits(), "12195555358");
    assert_eq!(c.profile_name.as_deref(), Some("Pablo Morales"));
    let via_old = db
        .store
        .find_contact(f.ws.id, &CustomerKey::Bsuid(bsuid(PABLO_ID)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(via_old.id, c.id);
});

both!(user_id_change_after_new_id_was_seen_merges, |db| async {
    db.fixture().await;
    db.apply(vec![inbound(
        "wamid.a",
        by_bsuid(PABLO_ID),
        1_000,
        "old id",
    )])
    .await;
    db.apply(vec![inbound(
        "wamid.b",
        by_bsuid(PABLO_NEW_ID),
        2_000,
        "new id, update not yet seen",
    )])
    .await;
    assert_ne!(
        db.conversation_of("wamid.a").await.conversation.id,
        db.conversation_of("wamid.b").await.conversation.id
    );
    db.apply(vec![Ingest::UserIdChanged(UserIdChange {
        number: number(),
        previous: bsuid(PABLO_ID),
        current: bsuid(PABLO_NEW_ID),
        phone: None,
        profile_name: None,
        timestamp: t(1_500),
    })])
    .await;
    let a = db.conversation_of("wamid.a").await;
    let b = db.conversation_of("wamid.b").await;
    assert_eq!(a.conversation.id, b.conversation.id);
    assert_eq!(a.conversation.message_count, 2);
    assert_eq!(a.contact.bsuid.as_ref().unwrap().as_str(), PABLO_NEW_ID);
});

both!(username_only_customer, |db| async {
    let f = db.fixture().await;
    let mut who = by_bsuid(PABLO_ID);
    who.username = Some("@pablomorales".into());
    db.apply(vec![inbound("wamid.n1", who, 1_000, "hi")]).await;
    let c = db.conversation_of("wamid.n1").await.contact;
    assert_eq!(c.phone, None);
    assert_eq!(c.username.as_deref(), Some("@pablomorales"));
    assert_eq!(c.display_name(), "@pablomorales");
    // A later profile name is display data; the key does not change.
    let mut named = by_bsuid(PABLO_ID);
    named.profile_name = Some("Pablo".into());
    db.apply(vec![inbound("wamid.n2", named, 1_001, "again")])
        .await;
    let c2 = db.store.get_contact(c.id).await.unwrap();
    assert_eq!(c2.profile_name.as_deref(), Some("Pablo"));
    assert_eq!(c2.username.as_deref(), Some("@pablomorales"));
    let found = db
        .store
        .find_contact(f.ws.id, &CustomerKey::Bsuid(bsuid(PABLO_ID)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, c.id);
});

both!(a_recycled_phone_moves_to_its_new_owner, |db| async {
    db.fixture().await;
    db.apply(vec![inbound(
        "wamid.x1",
        by_both(PABLO_ID, PABLO),
        1_000,
        "first owner",
    )])
    .await;
    db.apply(vec![inbound(
        "wamid.x2",
        by_both("US.999", PABLO),
        2_000,
        "second owner",
    )])
    .await;
    let first = db.conversation_of("wamid.x1").await;
    let second = db.conversation_of("wamid.x2").await;
    assert_ne!(first.contact.id, second.contact.id);
    let first_now = db.store.get_contact(first.contact.id).await.unwrap();
    assert_eq!(first_now.phone, None);
    assert_eq!(first_now.bsuid.unwrap().as_str(), PABLO_ID);
    assert_eq!(second.contact.phone.unwrap().digits(), PABLO);
});

both!(
    app_contacts_among_the_messages_of_a_batch_end_as_one_by_one,
    |db| async {
        let f = db.fixture().await;
        const FRIEND: &str = "16505550001";
        let add = |p: &str, name: &str, secs: i64| {
            Ingest::ContactUpsert(ContactSync {
                number: number(),
                customer: by_phone(p),
                full_name: Some(name.into()),
                first_name: None,
                timestamp: t(secs),
            })
        };
        // A new app contact no pending message names passes their run; one a pending message
        // names (Pablo) is applied after it; a later message of the new contact finds it.
        let s = db
            .apply(vec![
                inbound("wamid.r1", by_phone(PABLO), 100, "hi"),
                add(FRIEND, "New Friend", 101),
                inbound("wamid.r2", by_both("US.900", "16505550002"), 102, "hello"),
                add(PABLO, "Pablo App", 103),
                inbound("wamid.r3", by_phone(FRIEND), 104, "it's me"),
            ])
            .await;
        assert_eq!(s.messages_inserted, 3);
        assert_eq!(s.contacts_synced, 2);
        let pablo = db.conversation_of("wamid.r1").await.contact;
        assert_eq!(pablo.app_full_name.as_deref(), Some("Pablo App"));
        let friend = db.conversation_of("wamid.r3").await.contact;
        assert_eq!(friend.app_full_name.as_deref(), Some("New Friend"));
        assert!(friend.in_app_contacts);
        let found = db
            .store
            .find_contact(f.ws.id, &CustomerKey::Phone(phone(FRIEND)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, friend.id);
        let other = db.conversation_of("wamid.r2").await.contact;
        assert!(other.id != friend.id && other.id != pablo.id);
        assert_eq!(other.app_full_name, None);

        // An app contact that changes a known contact (Alice's phone, by her BSUID) waits for
        // the pending message that names her old phone: that message is still hers.
        db.apply(vec![inbound(
            "wamid.a0",
            by_both("US.901", ALICE),
            200,
            "hi",
        )])
        .await;
        let alice = db.conversation_of("wamid.a0").await.contact;
        let mut moved = add("16505550003", "Alice App", 202);
        if let Ingest::ContactUpsert(c) = &mut moved {
            c.customer = by_both("US.901", "16505550003");
        }
        db.apply(vec![
            inbound("wamid.a1", by_phone(ALICE), 201, "me again"),
            moved,
        ])
        .await;
        let now = db.conversation_of("wamid.a1").await.contact;
        assert_eq!(now.id, alice.id);
        assert_eq!(now.phone.unwrap().digits(), "16505550003");
    }
);

both!(contacts_from_the_app_sync, |db| async {
    let f = db.fixture().await;
    let add = |secs: i64, name: &str| {
        Ingest::ContactUpsert(ContactSync {
            number: number(),
            customer: by_phone(PABLO),
            full_name: Some(name.into()),
            first_name: Some("Pablo".into()),
            timestamp: t(secs),
        })
    };
    let remove = |secs: i64| {
        Ingest::ContactRemove(ContactRemoval {
            number: number(),
            key: CustomerKey::Phone(phone(PABLO)),
            timestamp: t(secs),
        })
    };
    let s = db.apply(vec![add(1_000, "Pablo Morales")]).await;
    assert_eq!(s.contacts_synced, 1);
    let c = db
        .store
        .find_contact(f.ws.id, &CustomerKey::Phone(phone(PABLO)))
        .await
        .unwrap()
        .unwrap();
    assert!(c.in_app_contacts);
    assert_eq!(c.display_name(), "Pablo Morales");

    // Removal, then an older add arriving late: stays removed. A redelivered add: unchanged.
    db.apply(vec![remove(2_000)]).await;
    let s = db
        .apply(vec![add(1_500, "Stale Name"), add(1_000, "Pablo Morales")])
        .await;
    assert_eq!(s.contacts_unchanged, 2);
    let c = db.store.get_contact(c.id).await.unwrap();
    assert!(!c.in_app_contacts);
    assert_eq!(c.app_full_name, None);

    // A newer add brings it back; the app contact later merges into a BSUID contact intact.
    db.apply(vec![add(3_000, "Pablo M.")]).await;
    db.apply(vec![inbound("wamid.k1", by_bsuid(PABLO_ID), 3_100, "hi")])
        .await;
    db.apply(vec![inbound(
        "wamid.k2",
        by_both(PABLO_ID, PABLO),
        3_200,
        "hi",
    )])
    .await;
    let merged = db.conversation_of("wamid.k2").await.contact;
    assert!(merged.in_app_contacts);
    assert_eq!(merged.app_full_name.as_deref(), Some("Pablo M."));

    // A removal for someone never seen is recorded, so an older add can't resurrect them.
    db.apply(vec![Ingest::ContactRemove(ContactRemoval {
        number: number(),
        key: CustomerKey::Bsuid(bsuid("US.777")),
        timestamp: t(5_000),
    })])
    .await;
    let ghost = db
        .store
        .find_contact(f.ws.id, &CustomerKey::Bsuid(bsuid("US.777")))
        .await
        .unwrap()
        .unwrap();
    assert!(!ghost.in_app_contacts);

    let jobs = db.store.sync_progress(&number()).await.unwrap();
    let contacts = jobs.iter().find(|j| j.kind == SyncKind::Contacts).unwrap();
    // Five distinct items (the redelivered add is not one) about two contacts.
    assert_eq!(contacts.chunks_received, 5);
    assert_eq!(contacts.items_received, 2);
    let n = db.store.get_number(&number()).await.unwrap();
    assert_eq!(n.last_app_activity_at, Some(t(5_000)));
});

both!(
    contact_sync_counters_count_each_item_once_whatever_the_order,
    |db| async {
        db.fixture().await;
        let add = |p: &str, secs: i64, name: &str| {
            Ingest::ContactUpsert(ContactSync {
                number: number(),
                customer: by_phone(p),
                full_name: Some(name.into()),
                first_name: None,
                timestamp: t(secs),
            })
        };
        let remove = |p: &str, secs: i64| {
            Ingest::ContactRemove(ContactRemoval {
                number: number(),
                key: CustomerKey::Phone(phone(p)),
                timestamp: t(secs),
            })
        };
        let counters = || async {
            let jobs = db.store.sync_progress(&number()).await.unwrap();
            let j = jobs.iter().find(|j| j.kind == SyncKind::Contacts).unwrap();
            (j.chunks_received, j.items_received, j.last_event_at)
        };
        // One webhook: two contacts added, one of them removed later (newest first).
        let webhook = vec![
            remove(PABLO, 2_000),
            add(PABLO, 1_000, "Pablo Morales"),
            add(ALICE, 1_000, "Alice"),
        ];
        db.apply(webhook.clone()).await;
        let first = counters().await;
        assert_eq!((first.0, first.1), (3, 2), "three items about two contacts");
        // Meta delivers it again, whole and in another order: nothing changes.
        db.apply(webhook.clone()).await;
        let mut reversed = webhook.clone();
        reversed.reverse();
        db.apply(reversed).await;
        assert_eq!(counters().await, first);
        // A new item about a known contact is one more item, not one more contact.
        db.apply(vec![add(ALICE, 3_000, "Alice B.")]).await;
        let last = counters().await;
        assert_eq!((last.0, last.1), (4, 2));
        // One batch holding the same new item twice, and two items about a new contact.
        let carol = "+14155550199";
        db.apply(vec![
            add(ALICE, 4_000, "Alice C."),
            add(ALICE, 4_000, "Alice C."),
            add(carol, 4_000, "Carol"),
            remove(carol, 4_500),
        ])
        .await;
        let after = counters().await;
        assert_eq!(
            (after.0, after.1),
            (7, 3),
            "three new items, one new contact"
        );
    }
);

both!(a_batch_creates_each_new_conversation_once, |db| async {
    db.fixture().await;
    // Alice is known from the phone app's contacts but has no conversation yet; Bob is new.
    db.apply(vec![Ingest::ContactUpsert(ContactSync {
        number: number(),
        customer: by_phone(ALICE),
        full_name: Some("Alice".into()),
        first_name: None,
        timestamp: t(NOW_SECS),
    })])
    .await;
    let s = db
        .apply(vec![
            inbound("wamid.n1", by_phone(PABLO), NOW_SECS + 1, "hi"),
            inbound("wamid.n2", by_phone(ALICE), NOW_SECS + 2, "hello"),
            inbound("wamid.n3", by_phone(PABLO), NOW_SECS + 3, "again"),
        ])
        .await;
    assert_eq!(s.messages_inserted, 3);
    let (p1, a, p3) = (
        db.conversation_of("wamid.n1").await,
        db.conversation_of("wamid.n2").await,
        db.conversation_of("wamid.n3").await,
    );
    assert_eq!(
        p1.conversation.id, p3.conversation.id,
        "one conversation for Pablo"
    );
    assert_ne!(p1.conversation.id, a.conversation.id);
    assert_eq!(
        a.contact.app_full_name.as_deref(),
        Some("Alice"),
        "the known contact"
    );
    assert_eq!(p1.conversation.message_count, 2);
    assert_eq!(p1.conversation.last_message_at, t(NOW_SECS + 3));
    assert_eq!(a.conversation.last_inbound_at, Some(t(NOW_SECS + 2)));
    // The next batch finds them: no second conversation.
    db.apply(vec![inbound(
        "wamid.n4",
        by_phone(ALICE),
        NOW_SECS + 4,
        "bye",
    )])
    .await;
    assert_eq!(
        db.conversation_of("wamid.n4").await.conversation.id,
        a.conversation.id
    );
});
