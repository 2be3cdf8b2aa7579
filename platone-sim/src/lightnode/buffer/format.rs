//! The bytes on disk: records, segment names, the state file (see the [parent](super) docs).

use std::io::{ErrorKind, Read};

use bytes::Bytes;
use crc::{CRC_32_ISO_HDLC, Crc};

use super::OutboxRecord;

pub(super) const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);
/// The first bytes of every segment file.
pub(super) const SEGMENT_MAGIC: &[u8; 8] = b"PLNOUTB1";
/// The first bytes of the state file.
pub(super) const STATE_MAGIC: &[u8; 8] = b"PLNSTAT1";
/// Bytes before a record's body: its length and CRC.
pub const RECORD_HEADER: u64 = 8;
/// Bytes of a record's body besides topic and payload: sequence number and topic length.
pub(super) const BODY_FIXED: usize = 10;

/// Why a record could not be read.
pub(super) enum Bad {
    /// The segment ends here (cleanly).
    End,
    /// Damaged: cut short, too long, CRC, sequence.
    Corrupt(String),
    /// The file could not be read.
    Io(std::io::Error),
}

/// Reads the record at the reader's position, expected to have sequence number `expect`, in a
/// segment of `limit` bytes being read at `offset`.
pub(super) fn read_record(
    reader: &mut impl Read,
    offset: u64,
    limit: u64,
    expect: u64,
) -> std::result::Result<(OutboxRecord, u64), Bad> {
    if offset >= limit {
        return Err(Bad::End);
    }
    let mut header = [0u8; RECORD_HEADER as usize];
    match reader.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
            return Err(Bad::Corrupt("a record header cut short".into()));
        }
        Err(e) => return Err(Bad::Io(e)),
    }
    let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
    let len = u64::from(u32::from_le_bytes([l0, l1, l2, l3]));
    let crc = u32::from_le_bytes([c0, c1, c2, c3]);
    let end = offset + RECORD_HEADER + len;
    if len < BODY_FIXED as u64 || end > limit {
        return Err(Bad::Corrupt(format!(
            "a record of {len} bytes at byte {offset} does not fit the segment"
        )));
    }
    let mut body = vec![0u8; len as usize];
    match reader.read_exact(&mut body) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
            return Err(Bad::Corrupt(format!(
                "the record at byte {offset} is cut short"
            )));
        }
        Err(e) => return Err(Bad::Io(e)),
    }
    if CRC32.checksum(&body) != crc {
        return Err(Bad::Corrupt(format!(
            "the record at byte {offset} fails its CRC"
        )));
    }
    let (fixed, rest) = body.split_at(BODY_FIXED);
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&fixed[..8]);
    let seq = u64::from_le_bytes(seq);
    let topic_len = usize::from(u16::from_le_bytes([fixed[8], fixed[9]]));
    if seq != expect {
        return Err(Bad::Corrupt(format!(
            "the record at byte {offset} has sequence number {seq}, {expect} expected"
        )));
    }
    if topic_len > rest.len() {
        return Err(Bad::Corrupt(format!(
            "the record at byte {offset} has a topic longer than itself"
        )));
    }
    let (topic, payload) = rest.split_at(topic_len);
    let topic = std::str::from_utf8(topic)
        .map_err(|_| Bad::Corrupt(format!("the record at byte {offset} has a non-UTF-8 topic")))?
        .to_owned();
    Ok((
        OutboxRecord {
            seq,
            topic,
            payload: Bytes::copy_from_slice(payload),
        },
        end,
    ))
}

pub(super) fn encode_record(seq: u64, topic: &str, payload: &[u8]) -> Option<Vec<u8>> {
    let topic_len = u16::try_from(topic.len()).ok()?;
    let len = u32::try_from(BODY_FIXED + topic.len() + payload.len()).ok()?;
    let mut body = Vec::with_capacity(len as usize + RECORD_HEADER as usize);
    body.extend_from_slice(&len.to_le_bytes());
    body.extend_from_slice(&[0; 4]);
    body.extend_from_slice(&seq.to_le_bytes());
    body.extend_from_slice(&topic_len.to_le_bytes());
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(payload);
    let crc = CRC32.checksum(&body[RECORD_HEADER as usize..]);
    body[4..8].copy_from_slice(&crc.to_le_bytes());
    Some(body)
}

/// The first sequence number a segment file's name gives, if it is one of ours.
pub(super) fn segment_first(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

pub(super) type StateFields = (u64, u64, u64, Vec<u64>);

pub(super) fn parse_state(bytes: &[u8]) -> Option<StateFields> {
    let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
    if CRC32.checksum(body) != u32::from_le_bytes(crc.try_into().ok()?) {
        return None;
    }
    let rest = body.strip_prefix(STATE_MAGIC)?;
    let word = |i: usize| -> Option<u64> {
        Some(u64::from_le_bytes(
            rest.get(i * 8..i * 8 + 8)?.try_into().ok()?,
        ))
    };
    let (confirmed, dropped, corrupt) = (word(0)?, word(1)?, word(2)?);
    let n = u32::from_le_bytes(rest.get(24..28)?.try_into().ok()?) as usize;
    let seqs = rest.get(28..)?;
    if seqs.len() != n.checked_mul(8)? {
        return None;
    }
    let above = seqs
        .chunks_exact(8)
        .filter_map(|c| c.try_into().ok().map(u64::from_le_bytes))
        .collect();
    Some((confirmed, dropped, corrupt, above))
}

/// The state file's bytes.
pub(super) fn encode_state(confirmed: u64, dropped: u64, corrupt: u64, above: &[u64]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(48 + 8 * above.len());
    bytes.extend_from_slice(STATE_MAGIC);
    bytes.extend_from_slice(&confirmed.to_le_bytes());
    bytes.extend_from_slice(&dropped.to_le_bytes());
    bytes.extend_from_slice(&corrupt.to_le_bytes());
    let n = u32::try_from(above.len()).unwrap_or(u32::MAX);
    bytes.extend_from_slice(&n.to_le_bytes());
    for seq in above.iter().take(n as usize) {
        bytes.extend_from_slice(&seq.to_le_bytes());
    }
    let crc = CRC32.checksum(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}
