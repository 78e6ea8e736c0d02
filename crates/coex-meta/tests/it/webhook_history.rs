//! History import: chunks, phases, progress, declines, BSUID threads and the media follow-up.

use coex_meta::webhook::{
    ChangeValue, Content, HISTORY_DECLINED_CODE, HistoryStatus, MessageType, StateSyncAction,
    StateSyncType,
};

use crate::support::only_value;

#[test]
fn approved_history_chunk() {
    let ChangeValue::History(v) = only_value("spec_2_3_history_approved.json") else {
        panic!()
    };
    let chunk = &v.history.unwrap()[0];
    let meta = chunk.metadata.as_ref().unwrap();
    assert_eq!(
        (meta.phase(), meta.chunk_order(), meta.progress()),
        (Some(0), Some(1), Some(55))
    );
    assert!(!chunk.is_declined());
    assert_eq!(chunk.message_count(), 4);
    let threads = chunk.threads.as_ref().unwrap();
    assert_eq!(threads[0].id.as_ref().unwrap().as_str(), "16505551234");
    let msgs = threads[0].messages.as_ref().unwrap();
    assert_eq!(msgs[1].kind, Some(MessageType::MediaPlaceholder));
    assert_eq!(
        msgs[1].history_context.as_ref().unwrap().status,
        Some(HistoryStatus::Played)
    );
    // Business messages in Meta's example have no `to`.
    assert!(msgs[0].to.is_none());
}

#[test]
fn declined_history() {
    let ChangeValue::History(v) = only_value("spec_2_3_history_declined.json") else {
        panic!()
    };
    let chunk = &v.history.unwrap()[0];
    assert!(chunk.is_declined());
    assert_eq!(
        chunk.errors.as_ref().unwrap()[0].code,
        Some(HISTORY_DECLINED_CODE)
    );
    assert!(chunk.threads.is_none());
}

#[test]
fn bsuid_thread_without_phone() {
    let ChangeValue::History(v) = only_value("spec_10_3_history_thread_bsuid.json") else {
        panic!()
    };
    let chunk = &v.history.unwrap()[0];
    assert_eq!(chunk.metadata.as_ref().unwrap().progress(), Some(100));
    let t = &chunk.threads.as_ref().unwrap()[0];
    assert!(t.id.is_none());
    let ctx = t.context.as_ref().unwrap();
    assert_eq!(
        ctx.user_id.as_ref().unwrap().as_str(),
        "US.13491208655302741918"
    );
    assert_eq!(ctx.username.as_deref(), Some("@pablomorales"));
    let m = &t.messages.as_ref().unwrap()[0];
    assert!(m.from.is_none());
    assert!(m.from_user_id.is_some());
}

#[test]
fn media_follow_ups() {
    let ChangeValue::History(v) = only_value("spec_2_3_history_media_followup.json") else {
        panic!()
    };
    assert!(v.history.is_none());
    let m = &v.messages.unwrap()[0];
    assert_eq!(
        m.id.as_ref().unwrap().as_str(),
        "wamid.QyNUEHBgLMTY0NjcwNDM1OTUVAgARGBI1Rj3NEYxMzAzMzQ5MkEA"
    );
    assert!(
        matches!(m.content(), Content::Image(i) if i.id.as_ref().unwrap().as_str() == "24230790383178626")
    );

    let ChangeValue::History(v) = only_value("history_media_followup_bsuid.json") else {
        panic!()
    };
    assert_eq!(v.contacts.as_ref().unwrap().len(), 1);
    assert!(
        matches!(v.messages.as_ref().unwrap()[0].content(), Content::Audio(a) if a.voice == Some(true))
    );
    let echo = &v.message_echoes.as_ref().unwrap()[0];
    assert!(
        matches!(echo.content(), Content::Document(d) if d.filename.as_deref() == Some("menu.pdf"))
    );
}

#[test]
fn app_state_sync_contacts() {
    let ChangeValue::AppStateSync(v) = only_value("spec_2_4_state_sync_add.json") else {
        panic!()
    };
    let s = &v.state_sync.unwrap()[0];
    assert_eq!(s.kind, Some(StateSyncType::Contact));
    assert_eq!(s.action, Some(StateSyncAction::Add));
    assert_eq!(s.timestamp_seconds(), Some(1_739_321_024));
    let c = s.contact.as_ref().unwrap();
    assert_eq!(c.full_name.as_deref(), Some("Pablo Morales"));
    assert_eq!(c.phone_number.as_ref().unwrap().as_str(), "16505551234");

    let ChangeValue::AppStateSync(v) = only_value("state_sync_remove_multi.json") else {
        panic!()
    };
    let items = v.state_sync.unwrap();
    assert_eq!(items[0].action, Some(StateSyncAction::Remove));
    assert!(items[0].contact.as_ref().unwrap().full_name.is_none());
    assert!(items[1].contact.as_ref().unwrap().parent_user_id.is_some());

    let ChangeValue::AppStateSync(v) = only_value("spec_10_3_state_sync_bsuid.json") else {
        panic!()
    };
    let c = v.state_sync.unwrap().remove(0).contact.unwrap();
    assert!(c.phone_number.is_none());
    assert_eq!(c.username.as_deref(), Some("@pablomorales"));
}

#[test]
fn user_id_updates() {
    let ChangeValue::UserIdUpdate(v) = only_value("spec_10_3_user_id_update.json") else {
        panic!()
    };
    let u = &v.user_id_update.unwrap()[0];
    let ids = u.user_id.as_ref().unwrap();
    assert_eq!(
        ids.previous.as_ref().unwrap().as_str(),
        "US.13491208655302741918"
    );
    assert_eq!(
        ids.current.as_ref().unwrap().as_str(),
        "US.20571936648120033617"
    );
    assert_eq!(u.timestamp_seconds(), Some(1_750_030_073));
    assert_eq!(u.wa_id.as_ref().unwrap().as_str(), "12195555358");

    let ChangeValue::UserIdUpdate(v) = only_value("user_id_update_parent.json") else {
        panic!()
    };
    let u = &v.user_id_update.unwrap()[0];
    assert!(u.wa_id.is_none());
    assert!(
        u.parent_user_id
            .as_ref()
            .unwrap()
            .current
            .as_ref()
            .unwrap()
            .is_parent()
    );
}
