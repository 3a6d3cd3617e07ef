//! Turns one authenticated delivery into the exact set of objects to store: partitions, and the raw body when needed.

use bytes::Bytes;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::batch::{SplitBatch, Unpartitioned};
use crate::keys::{BatchId, KeyLayout, PartitionDate};

pub const JSON_LINES: &str = "application/x-ndjson";
pub const JSON: &str = "application/json";

/// One object to write: key, bytes, content type and user metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub body: Bytes,
    pub content_type: &'static str,
    pub metadata: Vec<(&'static str, String)>,
}

/// How deliveries are laid out in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub keys: KeyLayout,
    /// Keep every raw body, not only those with something unpartitioned.
    pub raw_archive: bool,
}

/// Everything that one delivery will store, and the counts reported about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPlan {
    pub batch_id: BatchId,
    pub records: usize,
    pub vins: usize,
    pub unpartitioned: Unpartitioned,
    pub objects: Vec<StoredObject>,
}

impl DeliveryPlan {
    /// Plans the objects for an authenticated body. `signature` is the header as received.
    pub fn new(body: Bytes, signature: &str, received_at: OffsetDateTime, layout: &Layout) -> Self {
        let batch_id = BatchId::of(&body);
        let split = SplitBatch::split(&body);
        let mut vins: Vec<_> = split.partitions.iter().map(|partition| &partition.vin).collect();
        vins.sort_unstable_by_key(|vin| vin.as_str());
        vins.dedup();
        let vins = vins.len();
        let keep_raw = layout.raw_archive || !split.unpartitioned.is_empty();
        let mut objects = Vec::with_capacity(split.partitions.len() + usize::from(keep_raw));
        for partition in split.partitions {
            objects.push(StoredObject {
                key: layout.keys.partition_key(&partition.vin, partition.date, &batch_id),
                body: Bytes::from(partition.lines),
                content_type: JSON_LINES,
                metadata: Vec::new(),
            });
        }
        if keep_raw {
            let received_at_text = received_at.format(&Rfc3339).unwrap_or_default();
            objects.push(StoredObject {
                key: layout.keys.raw_key(PartitionDate::of(received_at), &batch_id),
                body,
                content_type: JSON,
                metadata: vec![("signature", signature.to_owned()), ("received-at", received_at_text)],
            });
        }
        Self { batch_id, records: split.records, vins, unpartitioned: split.unpartitioned, objects }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const RECEIVED: OffsetDateTime = datetime!(2026-12-03 23:59:59.5 UTC);

    fn layout(raw_archive: bool) -> Layout {
        Layout { keys: KeyLayout::new("p/"), raw_archive }
    }

    fn keys(plan: &DeliveryPlan) -> Vec<&str> {
        plan.objects.iter().map(|object| object.key.as_str()).collect()
    }

    #[test]
    fn plans_partitions_then_the_raw_body_when_archiving() {
        let body = Bytes::from_static(
            br#"{"V1":[{"date_time":"2023-02-14 01:00:00"}],"V2":[{"date_time":"2023-02-15 01:00:00"}]}"#,
        );
        let plan = DeliveryPlan::new(body.clone(), "sig", RECEIVED, &layout(true));
        let id = BatchId::of(&body);
        assert_eq!(
            keys(&plan),
            [
                format!("p/vin=V1/date=2023-02-14/{id}.jsonl"),
                format!("p/vin=V2/date=2023-02-15/{id}.jsonl"),
                format!("p/raw/date=2026-12-03/{id}.json"),
            ]
        );
        assert_eq!((plan.records, plan.vins), (2, 2));
        let raw = &plan.objects[2];
        assert_eq!(raw.body, body);
        assert_eq!(raw.content_type, JSON);
        assert_eq!(
            raw.metadata,
            [("signature", "sig".to_owned()), ("received-at", "2026-12-03T23:59:59.5Z".to_owned())]
        );
        assert!(plan.objects[..2].iter().all(|object| object.content_type == JSON_LINES && object.metadata.is_empty()));
    }

    #[test]
    fn skips_the_raw_body_when_archiving_is_off_and_all_was_partitioned() {
        let body = Bytes::from_static(br#"{"V1":[{"date_time":"2023-02-14 01:00:00"}]}"#);
        let plan = DeliveryPlan::new(body, "sig", RECEIVED, &layout(false));
        assert_eq!(plan.objects.len(), 1);
        assert!(plan.objects[0].key.ends_with(".jsonl"));
    }

    #[test]
    fn keeps_the_raw_body_when_anything_is_unpartitioned_even_with_archiving_off() {
        let body = Bytes::from_static(br#"{"V1":[{"date_time":"2023-02-14 01:00:00"}],"bad vin":[{}]}"#);
        let plan = DeliveryPlan::new(body.clone(), "sig", RECEIVED, &layout(false));
        assert_eq!(plan.objects.len(), 2);
        assert_eq!(plan.objects[1].body, body);
        assert_eq!(plan.unpartitioned.records_with_bad_vin, 1);
    }

    #[test]
    fn keeps_a_body_that_is_not_json_whole() {
        let body = Bytes::from_static(b"{\"V1\": [{\"x\": None}]}");
        let plan = DeliveryPlan::new(body.clone(), "sig", RECEIVED, &layout(false));
        assert_eq!(keys(&plan), [format!("p/raw/date=2026-12-03/{}.json", BatchId::of(&body))]);
        assert!(plan.unpartitioned.unreadable_body);
    }

    #[test]
    fn the_same_body_always_plans_the_same_objects() {
        let body = Bytes::from_static(br#"{"V1":[{"date_time":"2023-02-14 01:00:00"}]}"#);
        let first = DeliveryPlan::new(body.clone(), "sig", RECEIVED, &layout(true));
        let retry = DeliveryPlan::new(body, "sig", RECEIVED, &layout(true));
        assert_eq!(first, retry);
    }
}
