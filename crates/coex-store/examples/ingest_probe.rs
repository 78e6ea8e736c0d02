//! Rough ingest throughput of `apply_batch` with a realistic event mix (not a test; no
//! assertions). `cargo run --release -p coex-store --example ingest_probe -- <url> [webhooks] [batch]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use coex_core::model::*;
use coex_core::{PhoneNumber, PhoneNumberId, WabaId, Wamid};
use coex_store::{SqlStore, Store};

fn customer(i: u64) -> CustomerRef {
    CustomerRef::key(CustomerKey::Phone(
        PhoneNumber::parse(&format!("1650{:07}", i % 5_000)).unwrap(),
    ))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "sqlite:///tmp/coex-probe.db".into());
    let total: u64 = args.next().map_or(50_000, |s| s.parse().unwrap());
    let batch_size: u64 = args.next().map_or(256, |s| s.parse().unwrap());
    let store = SqlStore::connect(&url).await.unwrap();
    let ws = store
        .ensure_workspace(&WorkspaceSlug::parse("probe").unwrap(), "Probe")
        .await
        .unwrap();
    let waba = WabaId::parse("1").unwrap();
    store.upsert_waba(ws.id, &waba, None).await.unwrap();
    let number = PhoneNumberId::parse("100").unwrap();
    store
        .upsert_number(&NewNumber {
            id: number.clone(),
            waba,
            display_phone: PhoneNumber::parse("15550000000").unwrap(),
            verified_name: None,
            kind: NumberKind::Coexistence,
            tier: MessagingTier::Tier1k,
            initial_state: NumberState::Connected,
        })
        .await
        .unwrap();
    let run = std::process::id();
    let body = vec![b'x'; 800];
    // Statuses are about messages we sent: record those first (untimed), then walk them
    // forward one status per round (sent, delivered, read).
    let outbound = (total * 70 / 100 / 3).max(1);
    let sent_ids: Vec<Wamid> = (0..outbound)
        .map(|k| Wamid::parse(format!("wamid.{run}.out{k}")).unwrap())
        .collect();
    for chunk in sent_ids.chunks(1000) {
        let items = chunk
            .iter()
            .enumerate()
            .map(|(k, w)| IngestItem {
                received_at: Timestamp::from_secs(1_690_000_000),
                archive: ArchiveInput::None,
                events: vec![Ingest::Sent(SentMessage {
                    number: number.clone(),
                    wamid: w.clone(),
                    customer: customer(k as u64),
                    timestamp: Timestamp::from_secs(1_690_000_000),
                    origin: Origin::Campaign,
                    sender: None,
                    content: MessageContent::text("offer"),
                    send: None,
                })],
            })
            .collect();
        store.apply_batch(&IngestBatch { items }).await.unwrap();
    }
    let start = Instant::now();
    let mut next_status: u64 = 0;
    let mut done = 0;
    while done < total {
        let mut items = Vec::new();
        for k in 0..batch_size.min(total - done) {
            let i = done + k;
            let ts = Timestamp::from_secs(1_700_000_000 + i as i64);
            let wamid = Wamid::parse(format!("wamid.{run}.{i}")).unwrap();
            let ev = match i % 100 {
                0..=69 => {
                    let k = next_status;
                    next_status += 1;
                    let target = &sent_ids[(k % outbound) as usize];
                    let st = [
                        MessageStatus::Sent,
                        MessageStatus::Delivered,
                        MessageStatus::Read,
                    ][((k / outbound) % 3) as usize];
                    Ingest::Status(StatusUpdate {
                        number: number.clone(),
                        wamid: target.clone(),
                        status: st,
                        timestamp: ts,
                        recipient: None,
                        error: None,
                        pricing: None,
                    })
                }
                70..=89 => Ingest::InboundMessage(InboundMessage {
                    number: number.clone(),
                    wamid,
                    customer: customer(i),
                    timestamp: ts,
                    content: MessageContent::text("hello there"),
                    error: None,
                }),
                90..=94 => Ingest::Echo(EchoMessage {
                    number: number.clone(),
                    wamid,
                    customer: customer(i),
                    timestamp: ts,
                    content: MessageContent::text("from the phone"),
                }),
                95..=98 => Ingest::ContactUpsert(ContactSync {
                    number: number.clone(),
                    customer: customer(i),
                    full_name: Some("Someone".into()),
                    first_name: None,
                    timestamp: ts,
                }),
                _ => Ingest::HistoryChunk(HistoryChunk {
                    number: number.clone(),
                    phase: 1,
                    chunk_order: i as u32,
                    progress: 50,
                    messages: (0..100)
                        .map(|j| HistoryMessage {
                            wamid: Wamid::parse(format!("wamid.{run}.{i}.h{j}")).unwrap(),
                            customer: customer(i + j / 20),
                            direction: Direction::Inbound,
                            timestamp: Timestamp::from_secs(1_600_000_000 + j as i64),
                            content: MessageContent::text("old"),
                            status: Some(MessageStatus::Read),
                        })
                        .collect(),
                }),
            };
            items.push(IngestItem {
                received_at: ts,
                archive: ArchiveInput::New(RawWebhook::identity(body.clone(), true, ts)),
                events: vec![ev],
            });
        }
        done += items.len() as u64;
        store.apply_batch(&IngestBatch { items }).await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} webhooks in {secs:.2}s: {:.0}/s (batch {batch_size}, {})",
        total,
        total as f64 / secs,
        store.backend_name()
    );
}
