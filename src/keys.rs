//! The pieces of an object key: VIN, partition date, batch id, and the key layout built from them.

use std::fmt;

use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, format_description::well_known::Rfc3339};

/// A VIN that is safe to put in a key: 1 to 32 ASCII letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vin(String);

impl Vin {
    pub const MAX_LEN: usize = 32;

    pub fn parse(candidate: &str) -> Option<Self> {
        let fits = (1..=Self::MAX_LEN).contains(&candidate.len())
            && candidate.bytes().all(|byte| byte.is_ascii_alphanumeric());
        fits.then(|| Self(candidate.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Vin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The UTC calendar day a record belongs to, shown as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionDate(Date);

impl PartitionDate {
    /// Reads a record's `date_time`: `YYYY-MM-DD HH:MM:SS[.fraction]` taken as UTC, or RFC 3339 with an offset.
    pub fn from_date_time(value: &str) -> Option<Self> {
        parse_naive_utc(value).or_else(|| OffsetDateTime::parse(value, &Rfc3339).ok()).map(Self::of)
    }

    /// The UTC date of an instant, such as the moment a delivery was received.
    pub fn of(instant: OffsetDateTime) -> Self {
        Self(instant.to_offset(UtcOffset::UTC).date())
    }
}

impl fmt::Display for PartitionDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date = self.0;
        write!(f, "{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS` with optional fractional seconds, strictly digit by digit.
fn parse_naive_utc(value: &str) -> Option<OffsetDateTime> {
    let bytes = value.as_bytes();
    let (main, fraction) = bytes.split_at_checked(19)?;
    let fraction_ok = match fraction {
        [] => true,
        [b'.', digits @ ..] => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    let separators_ok =
        [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')].iter().all(|&(at, separator)| main[at] == separator);
    if !fraction_ok || !separators_ok {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u16> {
        let digits = &main[from..to];
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0u16, |total, digit| total * 10 + u16::from(digit - b'0')))
    };
    let month = time::Month::try_from(u8::try_from(number(5, 7)?).ok()?).ok()?;
    let date = Date::from_calendar_date(i32::from(number(0, 4)?), month, u8::try_from(number(8, 10)?).ok()?).ok()?;
    let time = Time::from_hms(
        u8::try_from(number(11, 13)?).ok()?,
        u8::try_from(number(14, 16)?).ok()?,
        u8::try_from(number(17, 19)?).ok()?,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Identifies a batch by the lowercase hex SHA-256 of its raw body, so a retried delivery gets the same keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BatchId(String);

impl BatchId {
    pub fn of(body: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(body)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Builds object keys under the configured prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLayout {
    prefix: String,
}

impl KeyLayout {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into() }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}vin={VIN}/date={YYYY-MM-DD}/{batch_id}.jsonl`
    pub fn partition_key(&self, vin: &Vin, date: PartitionDate, batch: &BatchId) -> String {
        format!("{}vin={vin}/date={date}/{batch}.jsonl", self.prefix)
    }

    /// `{prefix}raw/date={YYYY-MM-DD}/{batch_id}.json`, dated by receipt.
    pub fn raw_key(&self, received: PartitionDate, batch: &BatchId) -> String {
        format!("{}raw/date={received}/{batch}.json", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn date(value: &str) -> Option<String> {
        PartitionDate::from_date_time(value).map(|date| date.to_string())
    }

    #[test]
    fn accepts_vins_of_letters_and_digits_up_to_32_characters() {
        assert!(Vin::parse("6AHFT68CKAF501652").is_some());
        assert!(Vin::parse("a").is_some());
        assert!(Vin::parse(&"9".repeat(32)).is_some());
    }

    #[test]
    fn refuses_vins_that_could_escape_or_distort_a_key() {
        for candidate in ["", "../x", "a/b", "a%2Fb", "a b", "VÍN", "a=b", "a.b", "a\0b", &"9".repeat(33)] {
            assert_eq!(Vin::parse(candidate), None, "{candidate:?}");
        }
    }

    #[test]
    fn reads_provider_date_time_as_utc() {
        assert_eq!(date("2023-02-14 09:51:48").as_deref(), Some("2023-02-14"));
    }

    #[test]
    fn reads_fractional_seconds() {
        assert_eq!(date("2023-02-14 23:59:59.999999").as_deref(), Some("2023-02-14"));
    }

    #[test]
    fn converts_rfc3339_offsets_across_midnight_to_utc() {
        assert_eq!(date("2023-02-14T23:30:00-02:00").as_deref(), Some("2023-02-15"));
        assert_eq!(date("2023-02-15T01:00:00+03:00").as_deref(), Some("2023-02-14"));
        assert_eq!(date("2023-02-14T09:51:48Z").as_deref(), Some("2023-02-14"));
    }

    #[test]
    fn refuses_impossible_or_partial_dates() {
        for value in [
            "2023-02-30 10:00:00",
            "2023-13-01 10:00:00",
            "2023-02-14 24:00:00",
            "2023-02-14",
            "2023-02-14 09:51",
            "2023-02-14 09:51:48.",
            "2023-02-14 09:51:48 ",
            "2023-02-14T09:51:48",
            "+2023-02-14 09:51:48",
            "２０２３-02-14 09:51:48",
            "",
        ] {
            assert_eq!(date(value), None, "{value:?}");
        }
    }

    #[test]
    fn accepts_the_leap_day_of_a_leap_year_only() {
        assert_eq!(date("2024-02-29 00:00:00").as_deref(), Some("2024-02-29"));
        assert_eq!(date("2023-02-29 00:00:00"), None);
    }

    #[test]
    fn batch_id_is_the_hex_sha256_of_the_body() {
        assert_eq!(BatchId::of(b"abc").as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn builds_partition_and_raw_keys_under_the_prefix() {
        let layout = KeyLayout::new("telemetry/");
        let batch = BatchId::of(b"abc");
        let vin = Vin::parse("6AHFT68CKAF501652").expect("valid vin");
        let day = PartitionDate::of(datetime!(2023-02-14 23:30 -02:00));
        assert_eq!(
            layout.partition_key(&vin, day, &batch),
            format!("telemetry/vin=6AHFT68CKAF501652/date=2023-02-15/{batch}.jsonl")
        );
        assert_eq!(layout.raw_key(day, &batch), format!("telemetry/raw/date=2023-02-15/{batch}.json"));
    }

    #[test]
    fn builds_keys_at_the_bucket_root_without_a_prefix() {
        let batch = BatchId::of(b"");
        let day = PartitionDate::of(datetime!(2026-01-02 03:04:05 UTC));
        assert_eq!(KeyLayout::default().raw_key(day, &batch), format!("raw/date=2026-01-02/{batch}.json"));
    }
}
