//! Cutting a byte stream (TCP, a capture file) into C37.118.2 frames.
//!
//! The framer looks for 0xAA, checks the rest of SYNC and FRAMESIZE, waits until the whole
//! frame has arrived and checks CHK. Bytes that cannot start a frame are skipped and reported;
//! a frame with a bad CHK is reported with its offset and the search resumes one byte later,
//! so one corrupt frame costs nothing else. It never panics and holds at most one frame
//! (64 KiB) of unconsumed input beyond what was pushed.

use super::PmuError;
use super::c37118::{FrameHeader, MIN_FRAME_SIZE, check_frame};

/// What the framer found next.
#[derive(Debug)]
pub enum FramerEvent<'a> {
    /// A complete frame with a good CHK, starting at `offset` in the stream.
    Frame {
        /// Byte offset of the frame's first byte in the stream.
        offset: u64,
        /// The frame (FRAMESIZE bytes).
        bytes: &'a [u8],
    },
    /// A frame that failed its CHK (or, at the end of input, was cut short); skipped.
    Corrupt {
        /// Byte offset of the frame's first byte.
        offset: u64,
        /// Why it was rejected.
        error: PmuError,
    },
    /// Bytes that could not start a frame; skipped.
    Skipped {
        /// Offset of the first skipped byte.
        offset: u64,
        /// How many bytes.
        len: usize,
    },
}

/// Counters of what a framer has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FramerStats {
    /// Good frames.
    pub frames: u64,
    /// Frames rejected (bad CHK or truncated at the end).
    pub corrupt: u64,
    /// Bytes skipped while resynchronising.
    pub skipped_bytes: u64,
}

enum Step {
    /// Not enough bytes yet.
    Need,
    /// Skip this many bytes (no frame can start there).
    Skip(usize),
    /// A good frame of this size.
    Frame(usize),
    /// A frame-like candidate failed its CHK.
    Corrupt(PmuError),
}

/// Whether `avail[0]` could begin a frame, as far as the bytes present tell.
fn plausible_start(avail: &[u8]) -> bool {
    if avail.len() < 4 {
        // Not enough to judge: SYNC[1] if present must be plausible.
        return avail
            .get(1)
            .is_none_or(|&b| b & 0x80 == 0 && (b >> 4) <= 5 && (1..=3).contains(&(b & 0x0F)));
    }
    FrameHeader::peek(&pad_header(avail)).is_ok()
}

fn pad_header(avail: &[u8]) -> [u8; 14] {
    let mut h = [0u8; 14];
    let n = avail.len().min(14);
    h[..n].copy_from_slice(&avail[..n]);
    h
}

#[inline]
fn step(avail: &[u8]) -> Step {
    let Some(first) = avail.first() else {
        return Step::Need;
    };
    if *first != 0xAA {
        let skip = avail.iter().position(|&b| b == 0xAA).unwrap_or(avail.len());
        return Step::Skip(skip);
    }
    if !plausible_start(avail) {
        let skip = avail[1..]
            .iter()
            .position(|&b| b == 0xAA)
            .map_or(avail.len(), |p| p + 1);
        return Step::Skip(skip);
    }
    if avail.len() < 4 {
        return Step::Need;
    }
    let size = usize::from(u16::from_be_bytes([avail[2], avail[3]]));
    if size < MIN_FRAME_SIZE {
        return Step::Skip(1);
    }
    if avail.len() < size {
        return Step::Need;
    }
    match check_frame(avail) {
        Ok(_) => Step::Frame(size),
        Err(e) => Step::Corrupt(e),
    }
}

/// A framer for input that arrives in pieces (see the module docs).
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
    offset: u64,
    stats: FramerStats,
}

impl Framer {
    /// An empty framer at stream offset 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && (self.start >= self.buf.len() || self.start > 1 << 16) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// What has been seen so far.
    pub fn stats(&self) -> FramerStats {
        self.stats
    }

    /// Bytes received but not yet consumed (a partial frame).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    fn advance(&mut self, n: usize) -> (u64, usize) {
        let at = (self.offset, self.start);
        self.start += n;
        self.offset += n as u64;
        at
    }

    /// The next event, or `None` when more input is needed.
    pub fn next_event(&mut self) -> Option<FramerEvent<'_>> {
        match step(&self.buf[self.start..]) {
            Step::Need => None,
            Step::Skip(n) => {
                self.stats.skipped_bytes += n as u64;
                let (offset, _) = self.advance(n);
                Some(FramerEvent::Skipped { offset, len: n })
            }
            Step::Corrupt(error) => {
                self.stats.corrupt += 1;
                let (offset, _) = self.advance(1);
                Some(FramerEvent::Corrupt { offset, error })
            }
            Step::Frame(size) => {
                self.stats.frames += 1;
                let (offset, at) = self.advance(size);
                Some(FramerEvent::Frame {
                    offset,
                    bytes: &self.buf[at..at + size],
                })
            }
        }
    }

    /// Call at the end of the stream: reports what is left (a frame cut short) as corrupt.
    pub fn finish(&mut self) -> Option<FramerEvent<'static>> {
        let left = self.buffered();
        if left == 0 {
            return None;
        }
        let needed = if left >= 4 {
            usize::from(u16::from_be_bytes([
                self.buf[self.start + 2],
                self.buf[self.start + 3],
            ]))
        } else {
            MIN_FRAME_SIZE
        };
        self.stats.corrupt += 1;
        let (offset, _) = self.advance(left);
        Some(FramerEvent::Corrupt {
            offset,
            error: PmuError::Truncated {
                offset: left,
                field: "frame (end of stream)",
                needed,
                available: left,
            },
        })
    }
}

/// Frames in a complete in-memory stream, without copying: an iterator of events whose last
/// may be a truncated frame.
///
/// ```
/// use platone_cim::pmu::framer::{frames_in, FramerEvent};
/// let cmd = [0xAA, 0x41, 0x00, 0x12, 0x1E, 0x36, 0x44, 0x85, 0x60, 0x30,
///            0x0F, 0x0B, 0xBF, 0xD0, 0x00, 0x02, 0xCE, 0x00];
/// let mut stream = b"junk".to_vec();
/// stream.extend_from_slice(&cmd);
/// let events: Vec<_> = frames_in(&stream).collect();
/// assert!(matches!(events[0], FramerEvent::Skipped { offset: 0, len: 4 }));
/// assert!(matches!(events[1], FramerEvent::Frame { offset: 4, .. }));
/// ```
pub fn frames_in(stream: &[u8]) -> SliceFramer<'_> {
    SliceFramer { stream, pos: 0 }
}

/// See [`frames_in`].
#[derive(Debug, Clone)]
pub struct SliceFramer<'a> {
    stream: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for SliceFramer<'a> {
    type Item = FramerEvent<'a>;

    #[inline]
    fn next(&mut self) -> Option<FramerEvent<'a>> {
        let avail = self.stream.get(self.pos..)?;
        let offset = self.pos as u64;
        match step(avail) {
            Step::Need if avail.is_empty() => None,
            Step::Need => {
                self.pos = self.stream.len();
                Some(FramerEvent::Corrupt {
                    offset,
                    error: PmuError::Truncated {
                        offset: avail.len(),
                        field: "frame (end of stream)",
                        needed: if avail.len() >= 4 {
                            usize::from(u16::from_be_bytes([avail[2], avail[3]]))
                        } else {
                            MIN_FRAME_SIZE
                        },
                        available: avail.len(),
                    },
                })
            }
            Step::Skip(n) => {
                self.pos += n;
                Some(FramerEvent::Skipped { offset, len: n })
            }
            Step::Corrupt(error) => {
                self.pos += 1;
                Some(FramerEvent::Corrupt { offset, error })
            }
            Step::Frame(size) => {
                self.pos += size;
                Some(FramerEvent::Frame {
                    offset,
                    bytes: &avail[..size],
                })
            }
        }
    }
}
