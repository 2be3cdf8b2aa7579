//! A C37.118.2 byte stream as it arrives over TCP: cut into frames by the framer (in pieces
//! of a size the input chooses) and decoded in order; the same bytes as a pcap capture.
//!
//! The first input byte chooses the piece size (its low six bits) and, when its top bit is
//! set, whether every frame-like run of bytes gets a CHK matching its contents first, so that
//! mutations inside frames still yield frames.
//!
//! Invariants: the frames found do not depend on how the stream was cut into pieces (one
//! push, pieces, or the zero-copy slice framer), and the framer never holds more than one
//! frame (64 KiB) beyond a push.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platone_cim::pmu::c37118::{Decoder, MIN_FRAME_SIZE, crc16};
use platone_cim::pmu::framer::{Framer, FramerEvent, frames_in};
use platone_cim::pmu::pcap::read_pcap;

fn frames_of(framer: &mut Framer, pieces: &mut dyn Iterator<Item = &[u8]>) -> Vec<(u64, Vec<u8>)> {
    let mut frames = Vec::new();
    for piece in pieces {
        framer.push(piece);
        while let Some(event) = framer.next_event() {
            if let FramerEvent::Frame { offset, bytes } = event {
                frames.push((offset, bytes.to_vec()));
            }
        }
        assert!(
            framer.buffered() <= 65_536 + piece.len(),
            "the framer holds {} bytes after a push of {}",
            framer.buffered(),
            piece.len()
        );
    }
    let _ = framer.finish();
    frames
}

/// Gives every run of bytes that starts with 0xAA and fits its FRAMESIZE a matching CHK.
fn repair(stream: &mut [u8]) {
    let mut at = 0;
    while at + 4 <= stream.len() {
        let size = usize::from(u16::from_be_bytes([stream[at + 2], stream[at + 3]]));
        if stream[at] == 0xAA && size >= MIN_FRAME_SIZE && at + size <= stream.len() {
            let end = at + size;
            let chk = crc16(&stream[at..end - 2]);
            stream[end - 2..end].copy_from_slice(&chk.to_be_bytes());
            at = end;
        } else {
            at += 1;
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, stream)) = input.split_first() else {
        return;
    };
    let piece = usize::from(mode & 0x3F) + 1;
    let mut owned = stream.to_vec();
    if mode & 0x80 != 0 {
        repair(&mut owned);
    }
    let stream = &owned[..];

    let whole = frames_of(&mut Framer::new(), &mut std::iter::once(stream));
    let pieces = frames_of(&mut Framer::new(), &mut stream.chunks(piece));
    let sliced: Vec<(u64, Vec<u8>)> = frames_in(stream)
        .filter_map(|e| match e {
            FramerEvent::Frame { offset, bytes } => Some((offset, bytes.to_vec())),
            _ => None,
        })
        .collect();
    assert_eq!(whole, pieces, "frames depend on the piece size {piece}");
    assert_eq!(whole, sliced, "the slice framer and the framer disagree");

    let mut decoder = Decoder::new();
    for (_, frame) in &whole {
        let _ = decoder.decode(frame);
    }

    // The pcap reader sets up an 8 MB buffer per capture: only inputs that start like a
    // capture go to it, to keep the search fast.
    let magic = stream
        .get(..4)
        .map(|m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
    if matches!(
        magic,
        Some(0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1)
    ) {
        let _ = read_pcap(stream);
    }
});
