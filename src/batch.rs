//! Splits an authenticated body into JSON Lines partitions by VIN and UTC date, accounting for every record.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::keys::{PartitionDate, Vin};

/// The records of one VIN on one UTC day, as JSON Lines in the order received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub vin: Vin,
    pub date: PartitionDate,
    pub records: usize,
    pub lines: Vec<u8>,
}

/// What could not be partitioned. Anything counted here means the raw body must be kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unpartitioned {
    /// The body is not a JSON object (not JSON at all, an array, a scalar...).
    pub unreadable_body: bool,
    /// VIN entries whose value is not an array of records.
    pub non_array_entries: usize,
    /// Records under a key that is not a usable VIN.
    pub records_with_bad_vin: usize,
    /// Array items that are not JSON objects.
    pub records_not_objects: usize,
    /// Records whose `date_time` is missing or unusable.
    pub records_without_date: usize,
}

impl Unpartitioned {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// How many records (or non-array entries) were left out of the partitions.
    /// An unreadable body counts as one, since its records cannot be counted.
    pub fn records(&self) -> usize {
        usize::from(self.unreadable_body)
            + self.non_array_entries
            + self.records_with_bad_vin
            + self.records_not_objects
            + self.records_without_date
    }
}

/// A body split into partitions, with the count of what was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitBatch {
    /// Partitions in order of their first record.
    pub partitions: Vec<Partition>,
    /// Records found in the body, partitioned or not.
    pub records: usize,
    pub unpartitioned: Unpartitioned,
}

impl SplitBatch {
    /// Splits a body that maps VINs to arrays of records.
    ///
    /// Never fails: whatever cannot be placed is counted in [`SplitBatch::unpartitioned`].
    pub fn split(body: &[u8]) -> Self {
        let Ok(VinEntries(entries)) = serde_json::from_slice::<VinEntries>(body) else {
            return Self {
                unpartitioned: Unpartitioned { unreadable_body: true, ..Default::default() },
                ..Self::default()
            };
        };
        let mut split = Self::default();
        let mut index: HashMap<(Vin, PartitionDate), usize> = HashMap::new();
        for (key, value) in entries {
            let Ok(records) = serde_json::from_str::<Vec<&RawValue>>(value.get()) else {
                split.records += 1;
                split.unpartitioned.non_array_entries += 1;
                continue;
            };
            split.records += records.len();
            let Some(vin) = Vin::parse(&key) else {
                split.unpartitioned.records_with_bad_vin += records.len();
                continue;
            };
            for record in records {
                match record_date(record) {
                    Err(RecordProblem::NotAnObject) => split.unpartitioned.records_not_objects += 1,
                    Err(RecordProblem::NoUsableDate) => split.unpartitioned.records_without_date += 1,
                    Ok(date) => {
                        let slot = *index.entry((vin.clone(), date)).or_insert_with(|| {
                            split.partitions.push(Partition { vin: vin.clone(), date, records: 0, lines: Vec::new() });
                            split.partitions.len() - 1
                        });
                        let partition = &mut split.partitions[slot];
                        compact_json_into(record.get(), &mut partition.lines);
                        partition.lines.push(b'\n');
                        partition.records += 1;
                    }
                }
            }
        }
        split
    }
}

enum RecordProblem {
    NotAnObject,
    NoUsableDate,
}

fn record_date(record: &RawValue) -> Result<PartitionDate, RecordProblem> {
    // A derived struct would also accept a JSON array in field order, so insist on an object first.
    if !record.get().starts_with('{') {
        return Err(RecordProblem::NotAnObject);
    }
    #[derive(Deserialize)]
    struct DateTimeField<'a> {
        #[serde(borrow)]
        date_time: Option<Cow<'a, str>>,
    }
    serde_json::from_str::<DateTimeField>(record.get())
        .ok()
        .and_then(|field| field.date_time)
        .and_then(|date_time| PartitionDate::from_date_time(&date_time))
        .ok_or(RecordProblem::NoUsableDate)
}

/// The top-level object's entries in order, keeping repeated keys (a map would silently drop all but one).
struct VinEntries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for VinEntries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = VinEntries<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object mapping VINs to arrays of records")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<BorrowedKey<'de>, &'de RawValue>()? {
                    entries.push((entry.0.0, entry.1));
                }
                Ok(VinEntries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// A key borrowed from the body when it has no escapes, owned otherwise.
struct BorrowedKey<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for BorrowedKey<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = BorrowedKey<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }

            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowedKey(Cow::Borrowed(value)))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(BorrowedKey(Cow::Owned(value.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Copies valid JSON text without the whitespace between tokens; strings and numbers stay byte for byte.
pub fn compact_json_into(json: &str, out: &mut Vec<u8>) {
    out.reserve(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json.as_bytes() {
        if in_string {
            out.push(byte);
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(byte);
            in_string = byte == b'"';
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(partition: &Partition) -> Vec<&str> {
        std::str::from_utf8(&partition.lines).expect("utf-8").lines().collect()
    }

    fn compact(json: &str) -> String {
        let mut out = Vec::new();
        compact_json_into(json, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn compaction_removes_whitespace_between_tokens_only() {
        let json = "{ \"a b\" : [ 1 , \"x \\\" y\\\\\" ,\n\t{\"c\":\r\n null } ] }";
        assert_eq!(compact(json), "{\"a b\":[1,\"x \\\" y\\\\\",{\"c\":null}]}");
    }

    #[test]
    fn compaction_keeps_numbers_exactly_as_written() {
        let json = r#"{"speed": 109.780, "odometer": 1e400, "id": 123456789012345678901234567890, "neg": -0.0}"#;
        assert_eq!(
            compact(json),
            r#"{"speed":109.780,"odometer":1e400,"id":123456789012345678901234567890,"neg":-0.0}"#
        );
    }

    #[test]
    fn compaction_keeps_escapes_and_unicode_untouched() {
        let json = r#"{"note": "caf\u00e9 \/ ünï  côdé\n"}"#;
        assert_eq!(compact(json), r#"{"note":"caf\u00e9 \/ ünï  côdé\n"}"#);
    }

    #[test]
    fn splits_records_by_vin_and_date_in_order_received() {
        let body = br#"{
            "VIN1": [
                {"vin": "VIN1", "date_time": "2023-02-14 23:59:59", "n": 1},
                {"vin": "VIN1", "date_time": "2023-02-15 00:00:00", "n": 2},
                {"vin": "VIN1", "date_time": "2023-02-14 10:00:00", "n": 3}
            ],
            "VIN2": [ {"vin": "VIN2", "date_time": "2023-02-14T10:00:00Z", "n": 4} ]
        }"#;
        let split = SplitBatch::split(body);
        assert_eq!(split.records, 4);
        assert!(split.unpartitioned.is_empty());
        let summary: Vec<_> =
            split.partitions.iter().map(|p| (p.vin.to_string(), p.date.to_string(), lines(p))).collect();
        assert_eq!(
            summary,
            [
                (
                    "VIN1".to_owned(),
                    "2023-02-14".to_owned(),
                    vec![
                        r#"{"vin":"VIN1","date_time":"2023-02-14 23:59:59","n":1}"#,
                        r#"{"vin":"VIN1","date_time":"2023-02-14 10:00:00","n":3}"#
                    ]
                ),
                (
                    "VIN1".to_owned(),
                    "2023-02-15".to_owned(),
                    vec![r#"{"vin":"VIN1","date_time":"2023-02-15 00:00:00","n":2}"#]
                ),
                (
                    "VIN2".to_owned(),
                    "2023-02-14".to_owned(),
                    vec![r#"{"vin":"VIN2","date_time":"2023-02-14T10:00:00Z","n":4}"#]
                ),
            ]
        );
    }

    #[test]
    fn partition_lines_end_with_a_newline_each() {
        let split =
            SplitBatch::split(br#"{"V":[{"date_time":"2023-02-14 09:51:48"},{"date_time":"2023-02-14 09:51:49"}]}"#);
        let partition = &split.partitions[0];
        assert_eq!(partition.records, 2);
        assert!(partition.lines.ends_with(b"}\n"));
        assert_eq!(partition.lines.iter().filter(|&&b| b == b'\n').count(), 2);
    }

    #[test]
    fn repeated_vin_keys_keep_the_records_of_both() {
        let body =
            br#"{"V":[{"date_time":"2023-02-14 01:00:00","n":1}],"V":[{"date_time":"2023-02-14 02:00:00","n":2}]}"#;
        let split = SplitBatch::split(body);
        assert_eq!(split.partitions.len(), 1);
        assert_eq!(lines(&split.partitions[0]).len(), 2);
        assert_eq!(split.records, 2);
    }

    #[test]
    fn body_that_is_not_json_is_unreadable() {
        let split = SplitBatch::split(b"{\"V\": [{\"lv_battery_voltage\": None}]}");
        assert!(split.unpartitioned.unreadable_body);
        assert_eq!(split.unpartitioned.records(), 1);
        assert!(split.partitions.is_empty());
    }

    #[test]
    fn bodies_that_are_not_objects_are_unreadable() {
        for body in [&b"[]"[..], b"\"VIN\"", b"42", b"null", b"", b"{} {}", b"{\"V\":[]"] {
            assert!(SplitBatch::split(body).unpartitioned.unreadable_body, "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn deeply_nested_record_is_partitioned_intact_without_overflowing_the_stack() {
        let depth = 100_000;
        let record =
            format!("{{\"date_time\":\"2023-02-14 01:00:00\",\"x\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        let split = SplitBatch::split(format!("{{\"V\":[{record}]}}").as_bytes());
        assert!(split.unpartitioned.is_empty());
        assert_eq!(split.partitions[0].lines, format!("{record}\n").into_bytes());
    }

    #[test]
    fn vin_mapped_to_a_non_array_is_left_unpartitioned() {
        let split = SplitBatch::split(br#"{"V1":{"date_time":"2023-02-14 01:00:00"},"V2":7}"#);
        assert_eq!(split.unpartitioned.non_array_entries, 2);
        assert_eq!(split.unpartitioned.records(), 2);
    }

    #[test]
    fn records_under_an_unusable_vin_are_left_unpartitioned() {
        let split = SplitBatch::split(
            br#"{"../etc":[{"date_time":"2023-02-14 01:00:00"}],"OK1":[{"date_time":"2023-02-14 01:00:00"}]}"#,
        );
        assert_eq!(split.unpartitioned.records_with_bad_vin, 1);
        assert_eq!(split.partitions.len(), 1);
        assert_eq!(split.records, 2);
    }

    #[test]
    fn records_without_usable_date_or_not_objects_are_left_unpartitioned() {
        let body = br#"{"V":[{"n":1},{"date_time":"2023-02-30 01:00:00"},{"date_time":7},[1,2],"x",{"date_time":"2023-02-14 01:00:00","date_time":"2023-02-14 02:00:00"}]}"#;
        let split = SplitBatch::split(body);
        assert_eq!(split.unpartitioned.records_without_date, 4);
        assert_eq!(split.unpartitioned.records_not_objects, 2);
        assert!(split.partitions.is_empty());
        assert_eq!(split.records, 6);
    }

    #[test]
    fn escaped_vin_keys_are_read_as_their_decoded_text() {
        let split = SplitBatch::split(br#"{"\u0056IN":[{"date_time":"2023-02-14 01:00:00"}]}"#);
        assert_eq!(split.partitions[0].vin.as_str(), "VIN");
    }

    #[test]
    fn empty_object_has_no_records_and_nothing_unpartitioned() {
        let split = SplitBatch::split(b" {} ");
        assert_eq!(split, SplitBatch::default());
    }
}
