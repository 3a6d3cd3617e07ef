//! Splits an authenticated body into JSON Lines partitions by VIN and UTC date, accounting for every record.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
        let mut index: HashMap<(&str, PartitionDate), usize> = HashMap::new();
        let mut line = Vec::new();
        for (key, value) in &entries {
            let VinRecords::Records(records) = value else {
                split.records += 1;
                split.unpartitioned.non_array_entries += 1;
                continue;
            };
            split.records += records.len();
            let Some(vin) = Vin::parse(key) else {
                split.unpartitioned.records_with_bad_vin += records.len();
                continue;
            };
            // The VIN's first partition is sized for all its records (usually one date holds them all); any
            // further one grows as needed, so records spread over many dates cannot multiply the reservation.
            let mut remaining: usize = records.iter().map(|record| record.get().len() + 1).sum();
            let mut first_of_vin = true;
            for record in records {
                remaining -= record.get().len() + 1;
                // A record must be an object: an array or scalar has no `date_time` to place it by.
                if !record.get().starts_with('{') {
                    split.unpartitioned.records_not_objects += 1;
                    continue;
                }
                line.clear();
                let date = compact_and_find_date_time(record.get(), &mut line)
                    .and_then(|date_time| PartitionDate::from_date_time(&date_time));
                let Some(date) = date else {
                    split.unpartitioned.records_without_date += 1;
                    continue;
                };
                let slot = *index.entry((key.as_ref(), date)).or_insert_with(|| {
                    let lines = Vec::with_capacity(line.len() + 1 + if first_of_vin { remaining } else { 0 });
                    first_of_vin = false;
                    split.partitions.push(Partition { vin: vin.clone(), date, records: 0, lines });
                    split.partitions.len() - 1
                });
                let partition = &mut split.partitions[slot];
                partition.lines.extend_from_slice(&line);
                partition.lines.push(b'\n');
                partition.records += 1;
            }
        }
        split
    }
}

/// The top-level object's entries in order, keeping repeated keys (a map would silently drop all but one).
struct VinEntries<'a>(Vec<(Cow<'a, str>, VinRecords<'a>)>);

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
                while let Some((BorrowedKey(key), records)) = map.next_entry::<BorrowedKey<'de>, VinRecords<'de>>()? {
                    entries.push((key, records));
                }
                Ok(VinEntries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// The value under a VIN: its records as raw JSON, read in the same pass as the body, or anything else.
enum VinRecords<'a> {
    Records(Vec<&'a RawValue>),
    NotAnArray,
}

impl<'de> Deserialize<'de> for VinRecords<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RecordsVisitor;
        impl<'de> Visitor<'de> for RecordsVisitor {
            type Value = VinRecords<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(record) = seq.next_element::<&'de RawValue>()? {
                    records.push(record);
                }
                Ok(VinRecords::Records(records))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, &'de RawValue>()?.is_some() {}
                Ok(VinRecords::NotAnArray)
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(VinRecords::NotAnArray)
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(VinRecords::NotAnArray)
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(VinRecords::NotAnArray)
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(VinRecords::NotAnArray)
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(VinRecords::NotAnArray)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(VinRecords::NotAnArray)
            }
        }
        deserializer.deserialize_any(RecordsVisitor)
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
    compact_and_find_date_time(json, out);
}

/// Compacts one record (valid JSON, as serde_json has already checked) into `out` and, in the same pass, finds
/// the string value of its top-level `date_time` key. `None` when that key is missing, repeated or not a string.
fn compact_and_find_date_time<'a>(json: &'a str, out: &mut Vec<u8>) -> Option<Cow<'a, str>> {
    const DATE_TIME_KEY: &[u8] = b"\"date_time\"";
    let bytes = json.as_bytes();
    out.reserve(bytes.len());
    let (mut depth, mut expecting_key, mut after_date_key) = (0usize, false, false);
    let (mut date_keys, mut date_value) = (0usize, None);
    // Bytes are copied in runs between whitespace, not one at a time.
    let (mut at, mut run_start) = (0, 0);
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.extend_from_slice(&bytes[run_start..at]);
                at += 1;
                run_start = at;
            }
            b'"' => {
                let start = at;
                at += 1;
                // Jump from escape to escape until the closing quote (the text is valid JSON, so there is one).
                loop {
                    let Some(offset) = bytes.get(at..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) else {
                        at = bytes.len();
                        break;
                    };
                    let found = at + offset;
                    at = found + if bytes[found] == b'\\' { 2 } else { 1 };
                    if bytes[found] == b'"' {
                        break;
                    }
                }
                if depth == 1 && expecting_key {
                    after_date_key = &bytes[start..at] == DATE_TIME_KEY;
                    date_keys += usize::from(after_date_key);
                    expecting_key = false;
                } else if depth == 1 && after_date_key {
                    date_value = json.get(start..at).filter(|quoted| quoted.len() >= 2);
                    after_date_key = false;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                expecting_key = byte == b'{' && depth == 1;
                at += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                at += 1;
            }
            b',' if depth == 1 => {
                expecting_key = true;
                at += 1;
            }
            _ => at += 1,
        }
    }
    out.extend_from_slice(&bytes[run_start.min(bytes.len())..]);
    let quoted = date_value.filter(|_| date_keys == 1)?;
    let inner = &quoted[1..quoted.len() - 1];
    if inner.contains('\\') {
        serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
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

    fn date_of(record: &str) -> Option<String> {
        compact_and_find_date_time(record, &mut Vec::new()).map(Cow::into_owned)
    }

    #[test]
    fn finds_the_top_level_date_time_wherever_it_stands() {
        assert_eq!(
            date_of(r#"{"a":{"date_time":"x"},"date_time" : "2023-02-14 01:00:00"}"#).as_deref(),
            Some("2023-02-14 01:00:00")
        );
        assert_eq!(date_of(r#"{"date_time":"2023-02-14\u002001:00:00"}"#).as_deref(), Some("2023-02-14 01:00:00"));
    }

    #[test]
    fn ignores_nested_repeated_or_non_string_date_times() {
        assert_eq!(date_of(r#"{"flag":{"date_time":"2023-02-14 01:00:00"}}"#), None);
        assert_eq!(date_of(r#"{"date_time":"2023-02-14 01:00:00","date_time":"2023-02-15 01:00:00"}"#), None);
        assert_eq!(date_of(r#"{"date_time":7,"note":"2023-02-14 01:00:00"}"#), None);
        assert_eq!(date_of(r#"{"date_time":["2023-02-14 01:00:00"]}"#), None);
        assert_eq!(date_of(r#"{"date_time_utc":"2023-02-14 01:00:00"}"#), None);
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
    fn records_spread_over_many_dates_reserve_no_more_than_the_body_twice() {
        let records: Vec<String> = (0..1000)
            .map(|n| format!(r#"{{"date_time":"{:04}-01-01 00:00:00","pad":"{}"}}"#, 1001 + n, "x".repeat(100)))
            .collect();
        let body = format!(r#"{{"V":[{}]}}"#, records.join(","));
        let split = SplitBatch::split(body.as_bytes());
        assert_eq!(split.partitions.len(), 1000);
        let reserved: usize = split.partitions.iter().map(|p| p.lines.capacity()).sum();
        assert!(reserved <= 2 * body.len(), "reserved {reserved} bytes for a {} byte body", body.len());
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
