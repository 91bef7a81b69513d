//! The two values the Lua library writes and Rust reads back: a user's record
//! in a queue, and a seat's hold. The library's codecs (`lua/prelude.lua`:
//! `record_pack`, `hold_value`) are where they are written; this is their one
//! reader on this side, held to them by the tests below.

/// A user's record in a queue: struct `'>IIId'` of issued_s, nonce, last seen
/// (seconds after issued_s) and sequence. A record written before sequences
/// were kept has the first 12 bytes only, and sequence 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserRecord {
    pub(crate) issued_s: i64,
    pub(crate) nonce: u32,
    /// Seconds after `issued_s`.
    pub(crate) seen_s: i64,
    pub(crate) seq: i64,
}

impl UserRecord {
    /// `None` for fewer than the 12 bytes every record has.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        Some(UserRecord {
            issued_s: i64::from(be_u32(bytes.get(0..4)?)),
            nonce: be_u32(bytes.get(4..8)?),
            seen_s: i64::from(be_u32(bytes.get(8..12)?)),
            seq: bytes.get(12..20).map_or(0, |seq| be_f64(seq) as i64),
        })
    }
}

/// A seat's hold, `"<user id>:<expiry ms>"`: the holder and the expiry, or
/// `None` for a value of another shape.
pub(crate) fn parse_hold(value: &str) -> Option<(i64, i64)> {
    let (user, expiry) = value.split_once(':')?;
    Some((user.parse().ok()?, expiry.parse().ok()?))
}

/// A big-endian u32 of the first 4 bytes; callers pass at least 4.
pub(crate) fn be_u32(bytes: &[u8]) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_be_bytes(word)
}

/// A big-endian f64 (struct's `d`) of the first 8 bytes; callers pass at least 8.
pub(crate) fn be_f64(bytes: &[u8]) -> f64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[..8]);
    f64::from_be_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRELUDE: &str = include_str!("../../../lua/prelude.lua");

    #[test]
    fn the_record_is_read_in_the_layout_the_library_writes() {
        // The library's codec, as this reader assumes it.
        assert!(
            PRELUDE.contains("local RECORD = '>IIId'"),
            "lua/prelude.lua changed the record"
        );
        assert!(PRELUDE.contains("local RECORD_HEAD = '>III'"));
        let mut record = Vec::new();
        record.extend_from_slice(&1_700_000_000_u32.to_be_bytes());
        record.extend_from_slice(&4_000_000_000_u32.to_be_bytes());
        record.extend_from_slice(&42_u32.to_be_bytes());
        record.extend_from_slice(&1_700_000_000_123_456_f64.to_be_bytes());
        let read = UserRecord::decode(&record).unwrap();
        assert_eq!(
            read,
            UserRecord {
                issued_s: 1_700_000_000,
                nonce: 4_000_000_000,
                seen_s: 42,
                seq: 1_700_000_000_123_456
            }
        );
        assert_eq!(
            UserRecord::decode(&record[..12]).unwrap().seq,
            0,
            "a record from before sequences"
        );
        assert_eq!(UserRecord::decode(&record[..11]), None);
    }

    #[test]
    fn a_hold_is_read_in_the_shape_the_library_writes() {
        assert!(
            PRELUDE.contains("return user .. ':' .. expiry"),
            "lua/prelude.lua changed the hold value"
        );
        assert_eq!(parse_hold("12:1700000000123"), Some((12, 1_700_000_000_123)));
        assert_eq!(parse_hold("12"), None);
        assert_eq!(parse_hold("x:1"), None);
    }
}
