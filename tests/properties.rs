//! Property tests of the splitter and the delivery plan over generated bodies, VINs and dates.

use std::collections::HashMap;

use bytes::Bytes;
use mobway_receiver::batch::SplitBatch;
use mobway_receiver::delivery::{DeliveryPlan, Layout};
use mobway_receiver::keys::{BatchId, KeyLayout};
use proptest::prelude::*;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

/// Whitespace JSON allows between tokens.
fn whitespace() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec![" ", "\n", "\t", "\r\n", ""]), 0..3)
        .prop_map(|parts| parts.concat())
}

/// A JSON scalar written as a sender might write it: numbers keep their exact spelling.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?(0|[1-9][0-9]{0,12})(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,3})?",
        any::<String>().prop_map(|text| serde_json::to_string(&text).expect("strings serialise")),
        prop::sample::select(vec![
            "null".to_owned(),
            "true".to_owned(),
            "false".to_owned(),
            "{}".to_owned(),
            "[]".to_owned()
        ]),
    ]
}

/// A `date_time` value: usable (naive UTC or RFC 3339 with an offset) or not.
fn date_time() -> impl Strategy<Value = String> {
    prop_oneof![
        (1970..2100i32, 0..14u8, 0..33u8, 0..25u8, 0..60u8, 0..61u8)
            .prop_map(|(y, mo, d, h, mi, s)| format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")),
        (2000..2030i32, 1..13u8, 1..29u8, 0..24u8, -14..15i8, prop::sample::select(vec!["00", "30", "45"]))
            .prop_map(|(y, mo, d, h, off, m)| format!("{y:04}-{mo:02}-{d:02}T{h:02}:59:59{off:+03}:{m}")),
        any::<String>(),
    ]
}

/// The UTC date a `date_time` belongs to, decided independently of the code under test.
fn oracle_date(value: &str) -> Option<String> {
    if let Ok(instant) = time::OffsetDateTime::parse(value, &Rfc3339) {
        let date = instant.to_offset(time::UtcOffset::UTC).date();
        return Some(format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day()));
    }
    let bytes = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = bytes.get(range)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')];
    if bytes.len() != 19 || separators.iter().any(|&(at, separator)| bytes[at] != separator) {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= days[(month - 1) as usize]
        && digits(11..13)? < 24
        && digits(14..16)? < 60
        && digits(17..19)? < 60;
    valid.then(|| value[..10].to_owned())
}

/// One generated record: the text as sent (with whitespace) and as it must be stored (without).
#[derive(Debug, Clone)]
struct GeneratedRecord {
    sent: String,
    stored: String,
    date: Option<String>,
}

fn record() -> impl Strategy<Value = GeneratedRecord> {
    (date_time(), prop::collection::vec((any::<String>(), scalar()), 0..4), prop::collection::vec(whitespace(), 12))
        .prop_map(|(date_time, fields, ws)| {
            let date_value = serde_json::to_string(&date_time).expect("string");
            let mut tokens = vec!["{".to_owned(), "\"date_time\"".to_owned(), ":".to_owned(), date_value];
            for (name, value) in fields {
                let name = serde_json::to_string(&format!("x{name}")).expect("string");
                tokens.extend([",".to_owned(), name, ":".to_owned(), value]);
            }
            tokens.push("}".to_owned());
            let sent = tokens.iter().enumerate().map(|(i, token)| format!("{}{token}", ws[i % ws.len()])).collect();
            GeneratedRecord { sent, stored: tokens.concat(), date: oracle_date(&date_time) }
        })
}

fn vin() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[A-Za-z0-9]{1,32}", 1 => any::<String>(), 1 => prop::sample::select(vec!["VIN1".to_owned(), "VIN2".to_owned()])]
}

fn batch() -> impl Strategy<Value = Vec<(String, Vec<GeneratedRecord>)>> {
    prop::collection::vec((vin(), prop::collection::vec(record(), 0..5)), 0..6)
}

fn body_of(entries: &[(String, Vec<GeneratedRecord>)]) -> String {
    let entries: Vec<String> = entries
        .iter()
        .map(|(vin, records)| {
            let records: Vec<&str> = records.iter().map(|record| record.sent.as_str()).collect();
            format!("{}: [ {} ]", serde_json::to_string(vin).expect("string"), records.join(" ,\n"))
        })
        .collect();
    format!("{{\n{}\n}}", entries.join(",\n"))
}

fn valid_vin(vin: &str) -> bool {
    (1..=32).contains(&vin.len()) && vin.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn layout() -> Layout {
    Layout { keys: KeyLayout::new("p/"), raw_archive: false }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn splitter_never_panics_on_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let split = SplitBatch::split(&body);
        prop_assert!(split.partitions.iter().all(|partition| partition.lines.ends_with(b"\n")));
    }

    #[test]
    fn every_record_is_partitioned_exactly_once_as_received_without_whitespace_or_the_batch_is_kept_raw(entries in batch()) {
        let body = body_of(&entries);
        let split = SplitBatch::split(body.as_bytes());
        prop_assert!(!split.unpartitioned.unreadable_body, "generated bodies are JSON: {body}");

        // The model: lines per (VIN, date) in the order received; everything else unpartitioned.
        let mut expected: Vec<((String, String), String)> = Vec::new();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        let mut left_out = 0;
        for (vin, records) in &entries {
            for record in records {
                match (&record.date, valid_vin(vin)) {
                    (Some(date), true) => {
                        let slot = *index.entry((vin.clone(), date.clone())).or_insert_with(|| {
                            expected.push(((vin.clone(), date.clone()), String::new()));
                            expected.len() - 1
                        });
                        expected[slot].1.push_str(&record.stored);
                        expected[slot].1.push('\n');
                    }
                    _ => left_out += 1,
                }
            }
        }
        let actual: Vec<((String, String), String)> = split
            .partitions
            .iter()
            .map(|p| ((p.vin.to_string(), p.date.to_string()), String::from_utf8(p.lines.clone()).expect("utf-8")))
            .collect();
        prop_assert_eq!(actual, expected);
        prop_assert_eq!(split.unpartitioned.records(), left_out);
        prop_assert_eq!(split.records, entries.iter().map(|(_, records)| records.len()).sum::<usize>());

        let plan = DeliveryPlan::new(Bytes::from(body.clone()), "sig", datetime!(2026-12-03 00:00 UTC), &layout());
        let raw_kept = plan.objects.iter().any(|object| object.key.starts_with("p/raw/"));
        prop_assert_eq!(raw_kept, left_out > 0, "raw is kept exactly when something is left out");
    }

    #[test]
    fn every_key_matches_the_contract_pattern(entries in batch(), raw_archive in any::<bool>()) {
        let body = body_of(&entries);
        let layout = Layout { keys: KeyLayout::new("p/"), raw_archive };
        let plan = DeliveryPlan::new(Bytes::from(body.clone()), "sig", datetime!(2026-12-03 00:00 UTC), &layout);
        let batch = BatchId::of(body.as_bytes());
        for object in &plan.objects {
            let key = object.key.as_str();
            let well_formed = if let Some(rest) = key.strip_prefix("p/vin=") {
                let (vin, rest) = rest.split_once("/date=").expect("date folder");
                let (date, file) = rest.split_once('/').expect("file name");
                valid_vin(vin) && oracle_date(&format!("{date} 00:00:00")).is_some() && file == format!("{batch}.jsonl")
            } else {
                key == format!("p/raw/date=2026-12-03/{batch}.json")
            };
            prop_assert!(well_formed, "{key}");
        }
        let keys: std::collections::HashSet<&str> = plan.objects.iter().map(|object| object.key.as_str()).collect();
        prop_assert_eq!(keys.len(), plan.objects.len(), "no two objects share a key");
    }
}
