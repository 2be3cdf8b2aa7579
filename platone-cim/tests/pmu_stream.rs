//! The stream framer (resync after garbage, corrupt and truncated frames, frames split across
//! reads) and the pcap reader on the synthetic captures.

mod pmu_common;

use platone_cim::pmu::PmuError;
use platone_cim::pmu::c37118::{Decoded, Decoder};
use platone_cim::pmu::framer::{Framer, FramerEvent, frames_in};
use platone_cim::pmu::pcap::{PcapEvent, read_pcap};
use pmu_common::{hex_frames, reference};

fn annex_d() -> Vec<Vec<u8>> {
    hex_frames("ieee_annexD/annexD_and_pypmu_vectors.hex")
        .into_iter()
        .map(|(_, b)| b)
        .collect()
}

#[derive(Debug, PartialEq)]
enum Seen {
    Frame(u64, usize),
    Corrupt(u64),
    Skipped(u64, usize),
}

fn collect_split(stream: &[u8], chunk: usize) -> Vec<Seen> {
    let mut framer = Framer::new();
    let mut seen = Vec::new();
    for piece in stream.chunks(chunk.max(1)) {
        framer.push(piece);
        while let Some(ev) = framer.next_event() {
            seen.push(match ev {
                FramerEvent::Frame { offset, bytes } => Seen::Frame(offset, bytes.len()),
                FramerEvent::Corrupt { offset, .. } => Seen::Corrupt(offset),
                FramerEvent::Skipped { offset, len } => Seen::Skipped(offset, len),
            });
        }
    }
    if let Some(FramerEvent::Corrupt { offset, .. }) = framer.finish() {
        seen.push(Seen::Corrupt(offset));
    }
    seen
}

fn frames_only(seen: &[Seen]) -> Vec<(u64, usize)> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Frame(o, l) => Some((*o, *l)),
            _ => None,
        })
        .collect()
}

#[test]
fn resyncs_after_garbage_corrupt_and_truncated_frames() {
    let f = annex_d();
    let (cfg, data, cmd) = (&f[0], &f[1], &f[2]);
    let mut stream = Vec::new();
    stream.extend_from_slice(b"\xAA\xAAgarbage\x00\xAA");
    let cfg_at = stream.len() as u64;
    stream.extend_from_slice(cfg);
    let data_at = stream.len() as u64;
    stream.extend_from_slice(data);
    let corrupt_at = stream.len() as u64;
    let mut bad = data.clone();
    bad[30] ^= 0xFF;
    stream.extend_from_slice(&bad);
    let cmd_at = stream.len() as u64;
    stream.extend_from_slice(cmd);
    let truncated_at = stream.len() as u64;
    stream.extend_from_slice(&data[..30]);

    let expected = vec![
        (cfg_at, cfg.len()),
        (data_at, data.len()),
        (cmd_at, cmd.len()),
    ];
    for chunk in [1, 3, 7, 52, 1000, stream.len()] {
        let seen = collect_split(&stream, chunk);
        assert_eq!(frames_only(&seen), expected, "chunk {chunk}");
        assert!(
            seen.contains(&Seen::Corrupt(corrupt_at)),
            "chunk {chunk}: {seen:?}"
        );
        assert_eq!(
            seen.last(),
            Some(&Seen::Corrupt(truncated_at)),
            "chunk {chunk}"
        );
    }
    // The zero-copy iterator sees the same.
    let events: Vec<_> = frames_in(&stream).collect();
    let good: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            FramerEvent::Frame { offset, bytes } => Some((*offset, bytes.len())),
            _ => None,
        })
        .collect();
    assert_eq!(good, expected);
    let bad_crc = events.iter().find_map(|e| match e {
        FramerEvent::Corrupt {
            offset,
            error: PmuError::BadCrc { .. },
        } => Some(*offset),
        _ => None,
    });
    assert_eq!(bad_crc, Some(corrupt_at));
}

#[test]
fn framer_counts_and_decoder_follow_a_long_stream() {
    let f = annex_d();
    let mut stream = f[0].clone();
    for _ in 0..1000 {
        stream.extend_from_slice(&f[1]);
        stream.push(0x55);
    }
    let mut framer = Framer::new();
    let mut decoder = Decoder::new();
    let mut data = 0;
    for piece in stream.chunks(4093) {
        framer.push(piece);
        while let Some(ev) = framer.next_event() {
            if let FramerEvent::Frame { bytes, .. } = ev
                && let Decoded::Data(..) = decoder.decode(bytes).unwrap()
            {
                data += 1;
            }
        }
    }
    assert_eq!(data, 1000);
    let stats = framer.stats();
    assert_eq!(
        (stats.frames, stats.corrupt, stats.skipped_bytes),
        (1001, 0, 1000)
    );
    assert!(framer.buffered() == 0);
}

#[test]
fn pcap_captures_give_the_hex_frames() {
    for name in [
        "S1_cfg3_annexD_station_a",
        "S2_cfg3_two_pmus_mixed_formats",
        "S3_cfg3_fragmented_3_parts",
        "S4_cfg2_int16_polar",
        "S5_annexD_sync_variants",
    ] {
        let file = std::fs::File::open(reference(&format!("synthetic/{name}.pcap"))).unwrap();
        let events = read_pcap(file).unwrap();
        let frames: Vec<Vec<u8>> = events
            .into_iter()
            .map(|e| match e {
                PcapEvent::Frame { bytes, flow, .. } => {
                    assert!(flow.ends_with("/udp") || flow.ends_with("/tcp"), "{flow}");
                    bytes
                }
                PcapEvent::Corrupt { error, .. } => panic!("{name}: {error}"),
            })
            .collect();
        let expected: Vec<Vec<u8>> = hex_frames(&format!("synthetic/{name}.hex"))
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        assert_eq!(frames, expected, "{name}");
    }
}

/// A classic pcap with Ethernet/IPv4/TCP packets carrying `segments` (seq offset, payload).
fn tcp_pcap(segments: &[(u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, (seq, payload)) in segments.iter().enumerate() {
        let builder = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 2], 64)
            .tcp(40000, 4712, 1000 + seq, 65535);
        let mut pkt = Vec::new();
        builder.write(&mut pkt, payload).unwrap();
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        out.extend_from_slice(&pkt);
    }
    out
}

#[test]
fn pcap_tcp_reassembly_handles_splits_retransmissions_and_reordering() {
    let f = annex_d();
    let mut stream = f[0].clone();
    stream.extend_from_slice(&f[1]);
    stream.extend_from_slice(&f[1]);
    let cut = [0usize, 100, 200, 454, 480, stream.len()];
    let segs: Vec<(u32, &[u8])> = cut
        .windows(2)
        .map(|w| (w[0] as u32, &stream[w[0]..w[1]]))
        .collect();
    // Out of order (3rd before 2nd) and a retransmission of the first.
    let shuffled = vec![segs[0], segs[2], segs[1], segs[0], segs[3], segs[4]];
    let events = read_pcap(&tcp_pcap(&shuffled)[..]).unwrap();
    let frames: Vec<_> = events
        .iter()
        .map(|e| match e {
            PcapEvent::Frame { bytes, offset, .. } => (*offset, bytes.len()),
            PcapEvent::Corrupt { error, .. } => panic!("{error}"),
        })
        .collect();
    assert_eq!(frames, [(0, 454), (454, 52), (506, 52)]);
    // Not a pcap at all.
    assert!(matches!(
        read_pcap(&b"not a capture"[..]),
        Err(PmuError::Pcap { packet: 0, .. })
    ));
}
