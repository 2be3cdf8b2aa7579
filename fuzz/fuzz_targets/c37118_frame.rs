//! One IEEE C37.118.2 frame: checked and decoded, alone and by a decoder that already holds
//! the Annex D configuration (so data frames of its stream are decoded too).
//!
//! The first input byte chooses how the rest is used: odd, the frame's FRAMESIZE and CHK are
//! set to match its length and contents first, so that mutations reach the body decoders.
//!
//! Invariants: a decoded header, command or configuration frame encodes to a frame that
//! decodes and encodes to the same bytes; decoded data frames convert to measurements, SOGNO messages and
//! JSON without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platone_cim::pmu::c37118::{Decoded, Decoder, Frame, crc16, parse_frame};
use platone_cim::pmu::{convert, json};

/// The CFG-2 frame of IEEE C37.118.2 Annex D (station A, IDCODE 7734).
const ANNEX_D_CFG2: &str = "aa3101c61e36448527f056071098000f4240000153746174696f6e2041202020202020201e36000400040003000156412020202020202020202020202020564220202020202020202020202020205643202020202020202020202020202049312020202020202020202020202020414e414c4f4731202020202020202020414e414c4f4732202020202020202020414e414c4f4733202020202020202020425245414b4552203120535441545553425245414b4552203220535441545553425245414b4552203320535441545553425245414b4552203420535441545553425245414b4552203520535441545553425245414b4552203620535441545553425245414b4552203720535441545553425245414b4552203820535441545553425245414b4552203920535441545553425245414b4552204120535441545553425245414b4552204220535441545553425245414b4552204320535441545553425245414b4552204420535441545553425245414b4552204520535441545553425245414b4552204620535441545553425245414b4552204720535441545553000df847000df847000df8470100b2d00000000101000001020000010000ffff00000016001ed5d1";

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap_or(0))
        .collect()
}

/// Sets FRAMESIZE to the frame's length and CHK to its CRC.
fn repair(frame: &mut [u8]) {
    let n = frame.len();
    if !(16..=usize::from(u16::MAX)).contains(&n) {
        return;
    }
    frame[2..4].copy_from_slice(&(n as u16).to_be_bytes());
    let chk = crc16(&frame[..n - 2]);
    frame[n - 2..].copy_from_slice(&chk.to_be_bytes());
}

/// The frame encoded again; `None` for frames without an encoder of their own (data, CFG-3
/// fragments) and for decoded frames too large to encode.
fn encode(frame: &Frame<'_>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let encoded = match frame {
        Frame::Header(h) => h.encode(&mut out),
        Frame::Command(c) => c.encode(&mut out),
        Frame::Config(c) => c.encode(&mut out),
        Frame::Data(..) | Frame::Cfg3Fragment(..) => return None,
    };
    encoded.ok().map(|()| out)
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, bytes)) = input.split_first() else {
        return;
    };
    let mut frame = bytes.to_vec();
    if mode & 1 == 1 {
        repair(&mut frame);
    }
    let bytes = &frame[..];
    // Decoding and encoding again is stable: a decoded frame encodes to bytes that decode and
    // encode to the same bytes (compared as bytes: header text that is not UTF-8 is decoded
    // lossily by design, and a NaN coordinate is not equal to itself).
    if let Ok(frame) = parse_frame(bytes) {
        let once = encode(&frame);
        if let Some(once) = once {
            let again = parse_frame(&once).map(|f| encode(&f));
            match again {
                Ok(Some(again)) => assert_eq!(again, once, "encode(decode(frame)) is not stable"),
                other => panic!("an encoded frame does not decode and encode again: {other:?}"),
            }
        }
    }

    let mut decoder = Decoder::new();
    decoder
        .decode(&hex(ANNEX_D_CFG2))
        .expect("the Annex D configuration decodes");
    if let Ok(decoded) = decoder.decode(bytes) {
        let _ = json::decoded_json(&decoded, 0, decoder.registry(), None);
        if let Decoded::Data(frame, config) = &decoded {
            let _ = convert::data_to_measurements(frame, config, None);
            let _ = convert::data_to_sogno(frame, config, None);
        }
    }
});
