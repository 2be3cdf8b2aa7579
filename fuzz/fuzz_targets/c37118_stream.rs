//! A C37.118.2 byte stream as it arrives over TCP: cut into frames by the framer (in pieces
//! of a size the input chooses) and decoded in order; the same bytes as a pcap capture.
//!
//! Invariants: the frames found do not depend on how the stream was cut into pieces (one
//! push, pieces, or the zero-copy slice framer), and the framer never holds more than one
//! frame (64 KiB) beyond a push.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platone_cim::pmu::c37118::Decoder;
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

fuzz_target!(|input: &[u8]| {
    let Some((&cut, stream)) = input.split_first() else {
        return;
    };
    let piece = usize::from(cut % 64) + 1;

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

    let _ = read_pcap(stream);
});
