//! [`decide`] rule by rule, at a fixed instant.

use super::*;
use crate::model::{NumberKind, NumberState};

const NOW: Timestamp = Timestamp::from_secs(1_750_000_000);
const HOUR: i64 = 60 * 60 * 1000;

fn coex() -> NumberFacts {
    NumberFacts {
        kind: NumberKind::Coexistence,
        state: NumberState::Connected,
    }
}

fn cloud() -> NumberFacts {
    NumberFacts {
        kind: NumberKind::CloudApi,
        ..coex()
    }
}

/// A conversation whose customer last wrote `ms` before [`NOW`].
fn wrote_ago(ms: i64) -> ConversationFacts {
    ConversationFacts {
        last_inbound_at: Some(NOW.plus_millis(-ms)),
    }
}

fn phone() -> PhoneNumber {
    PhoneNumber::parse("+16505551234").unwrap()
}

fn bsuid() -> Bsuid {
    Bsuid::parse("US.13491208655302741918").unwrap()
}

fn to_phone(content: SendContent) -> SendFacts {
    SendFacts {
        recipient: CustomerKey::Phone(phone()),
        content,
        features: vec![],
    }
}

fn text() -> SendContent {
    SendContent::FreeForm {
        kind: FreeFormKind::Text,
    }
}

fn template(name: &str, body_params: usize) -> SendContent {
    SendContent::Template(TemplateUse {
        name: name.into(),
        language: "en_US".into(),
        params: GivenParams::default().body_positional(body_params),
        header_media: None,
    })
}

fn catalog() -> Vec<TemplateFacts> {
    [
        ("promo", TemplateCategory::Marketing, 1),
        ("shipping", TemplateCategory::Utility, 1),
        ("otp", TemplateCategory::Authentication, 1),
    ]
    .map(|(name, category, n)| TemplateFacts {
        name: name.into(),
        language: "en_US".into(),
        status: TemplateStatus::Approved,
        category,
        expected: ExpectedParams {
            body: (1..=n).map(Slot::Positional).collect(),
            ..Default::default()
        },
    })
    .into()
}

fn run(number: NumberFacts, conv: ConversationFacts, req: &SendFacts) -> Decision {
    decide(&number, &conv, req, &catalog(), NOW)
}

#[test]
fn window_is_open_until_exactly_24h() {
    let d = run(coex(), wrote_ago(24 * HOUR - 1), &to_phone(text()));
    assert_eq!(
        d,
        Decision::SendNow {
            category: Category::Service,
            free_in_window: true,
            recipient: Recipient::Phone(phone()),
            window: Window::Open {
                closes_at: NOW.plus_millis(1)
            },
        }
    );
    let d = run(coex(), wrote_ago(24 * HOUR), &to_phone(text()));
    assert_eq!(
        d,
        Decision::NeedsTemplate {
            reason: NeedsTemplateReason::WindowExpired,
            window_closed_since: Some(NOW),
        }
    );
    assert_eq!(d.code(), "window_expired");
    assert_eq!(d.meta_code(), Some(131047));
    assert!(d.detail().contains("even from the app"), "{}", d.detail());
}

#[test]
fn only_the_customers_inbound_opens_the_window() {
    // The policy's only window input is `last_inbound_at`: a conversation with a fresh echo or
    // API send but no inbound message (the store leaves the field `None`) stays closed.
    let never = ConversationFacts {
        last_inbound_at: None,
    };
    let d = run(coex(), never, &to_phone(text()));
    assert_eq!(
        d,
        Decision::NeedsTemplate {
            reason: NeedsTemplateReason::NoInboundMessage,
            window_closed_since: None,
        }
    );
    // Media is a service message too.
    let video = SendContent::Media(MediaFacts::known(MediaKind::Video, "video/mp4", 1_000));
    assert!(matches!(
        run(coex(), wrote_ago(30 * HOUR), &to_phone(video.clone())),
        Decision::NeedsTemplate { .. }
    ));
    assert!(run(coex(), wrote_ago(HOUR), &to_phone(video)).is_send_now());
}

#[test]
fn templates_go_out_of_window_with_their_category() {
    let closed = wrote_ago(48 * HOUR);
    for (name, category) in [
        ("promo", Category::Marketing),
        ("shipping", Category::Utility),
        ("otp", Category::Authentication),
    ] {
        match run(coex(), closed, &to_phone(template(name, 1))) {
            Decision::SendNow {
                category: c,
                free_in_window,
                window,
                ..
            } => {
                assert_eq!(c, category);
                assert!(!free_in_window);
                assert!(!window.is_open());
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // Inside the window only utility templates are free.
    let open = wrote_ago(HOUR);
    let free = |name| match run(coex(), open, &to_phone(template(name, 1))) {
        Decision::SendNow { free_in_window, .. } => free_in_window,
        other => panic!("{other:?}"),
    };
    assert!(free("shipping"));
    assert!(!free("promo"));
    assert!(!free("otp"));
}

#[test]
fn template_checks() {
    let open = wrote_ago(HOUR);
    let d = run(coex(), open, &to_phone(template("nope", 1)));
    assert_eq!(d.code(), "template_not_found");
    assert_eq!(d.meta_code(), Some(132001));
    let d = run(coex(), open, &to_phone(template("promo", 0)));
    assert_eq!(d.code(), "template_param_mismatch");
    assert_eq!(d.meta_code(), Some(132000));
    let mut pt = template("promo", 1);
    if let SendContent::Template(t) = &mut pt {
        t.language = "pt_BR".into();
    }
    assert_eq!(
        run(coex(), open, &to_phone(pt)).code(),
        "template_language_not_found"
    );
    let mut cat = catalog();
    cat[0].status = TemplateStatus::Rejected;
    let d = decide(&coex(), &open, &to_phone(template("promo", 1)), &cat, NOW);
    assert_eq!(d.code(), "template_not_approved");
    // Refusals come before the window: a bad template outside the window is refused.
    let d = run(
        coex(),
        wrote_ago(48 * HOUR),
        &to_phone(template("promo", 3)),
    );
    assert_eq!(d.code(), "template_param_mismatch");
}

#[test]
fn every_disabled_feature_has_its_code() {
    let open = wrote_ago(HOUR);
    let codes = [
        (Feature::ViewOnce, "view_once"),
        (Feature::Disappearing, "disappearing"),
        (Feature::LiveLocation, "live_location"),
        (Feature::EditFromApi, "edit_from_api"),
        (Feature::RevokeFromApi, "revoke_from_api"),
        (Feature::BroadcastList, "broadcast_list"),
        (Feature::MarketingMessagesLite, "marketing_messages_lite"),
    ];
    assert_eq!(codes.len(), Feature::ALL.len());
    for (feature, code) in codes {
        let mut req = to_phone(text());
        req.features = vec![feature];
        let d = run(coex(), open, &req);
        assert_eq!(d.code(), code);
        assert!(d.detail().contains("Coexistence"), "{}", d.detail());
        // Even a valid template is refused when it asks for the feature.
        req.content = template("promo", 1);
        assert_eq!(run(coex(), open, &req).code(), code);
    }
    // Marketing Messages Lite is a coexistence restriction only.
    let mut req = to_phone(template("promo", 1));
    req.features = vec![Feature::MarketingMessagesLite];
    assert!(run(cloud(), open, &req).is_send_now());
    req.features = vec![Feature::ViewOnce];
    assert_eq!(run(cloud(), open, &req).code(), "view_once");
    // Several at once: the first in `Feature::ALL` order, always.
    req.features = vec![Feature::BroadcastList, Feature::Disappearing];
    assert_eq!(run(coex(), open, &req).code(), "disappearing");
}

#[test]
fn media_limits_apply_before_the_window() {
    let big_video = SendContent::Media(MediaFacts::known(
        MediaKind::Video,
        "video/mp4",
        16 * 1024 * 1024 + 1,
    ));
    let d = run(coex(), wrote_ago(HOUR), &to_phone(big_video.clone()));
    assert_eq!(d.code(), "media_too_large");
    assert!(d.detail().contains("does not sync"), "{}", d.detail());
    let d = run(coex(), wrote_ago(48 * HOUR), &to_phone(big_video));
    assert_eq!(d.code(), "media_too_large");
    let gif = SendContent::Media(MediaFacts::known(MediaKind::Image, "image/gif", 10));
    assert_eq!(
        run(coex(), wrote_ago(HOUR), &to_phone(gif)).code(),
        "media_type_unsupported"
    );
}

#[test]
fn recipients_by_phone_or_bsuid() {
    let open = wrote_ago(HOUR);
    let mut req = to_phone(text());
    req.recipient = CustomerKey::Both {
        bsuid: bsuid(),
        phone: phone(),
    };
    let recipient_of = |d: Decision| match d {
        Decision::SendNow { recipient, .. } => recipient,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        recipient_of(run(coex(), open, &req)),
        Recipient::Phone(phone())
    );
    req.recipient = CustomerKey::Bsuid(bsuid());
    assert_eq!(
        recipient_of(run(coex(), open, &req)),
        Recipient::Bsuid(bsuid())
    );
}

#[test]
fn authentication_templates_need_a_phone_number() {
    let mut req = to_phone(template("otp", 1));
    req.recipient = CustomerKey::Bsuid(bsuid());
    let d = run(cloud(), wrote_ago(HOUR), &req);
    assert_eq!(d.code(), "bsuid_recipient_not_supported");
    assert_eq!(d.meta_code(), Some(131062));
    // A parent BSUID is no better.
    req.recipient = CustomerKey::Bsuid(Bsuid::parse("US.ENT.11815799212886844830").unwrap());
    assert_eq!(
        run(cloud(), wrote_ago(HOUR), &req).code(),
        "bsuid_recipient_not_supported"
    );
    // With the phone number known, it goes to the phone.
    req.recipient = CustomerKey::Both {
        bsuid: bsuid(),
        phone: phone(),
    };
    assert!(run(cloud(), wrote_ago(HOUR), &req).is_send_now());
    // Other templates may go to a BSUID.
    req.content = template("promo", 1);
    req.recipient = CustomerKey::Bsuid(bsuid());
    assert!(run(cloud(), wrote_ago(HOUR), &req).is_send_now());
}

#[test]
fn numbers_that_cannot_send_are_refused_first() {
    for state in NumberState::ALL {
        let number = NumberFacts {
            state: *state,
            ..coex()
        };
        let mut req = to_phone(text());
        req.features = vec![Feature::ViewOnce];
        let d = run(number, wrote_ago(HOUR), &req);
        if *state == NumberState::Connected {
            assert_eq!(d.code(), "view_once");
        } else {
            assert_eq!(d.code(), format!("number_{state}"));
            assert!(d.detail().contains("data is kept"), "{}", d.detail());
        }
    }
}
