//! Frames out of classic pcap captures, for debugging field traffic: TCP payloads are
//! reassembled per flow (in sequence order, retransmissions dropped, out-of-order segments held
//! back until the gap fills) and cut into frames with the stream [`Framer`]; UDP datagrams are
//! taken whole. Link types: Ethernet, raw IP (IPv4/IPv6), Linux cooked (SLL) and BSD loopback.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::net::IpAddr;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;

use super::PmuError;
use super::framer::{Framer, FramerEvent, frames_in};

/// A frame or a problem found in a capture.
#[derive(Debug)]
pub enum PcapEvent {
    /// A frame with a good CHK.
    Frame {
        /// 1-based number of the packet that completed it.
        packet: u64,
        /// `SRC:PORT > DST:PORT/tcp` or `/udp`.
        flow: String,
        /// Byte offset in the flow's reassembled stream (in the datagram for UDP).
        offset: u64,
        /// The frame.
        bytes: Vec<u8>,
    },
    /// A corrupt frame (bad CHK, truncated) or skipped bytes, reported and passed over.
    Corrupt {
        /// 1-based packet number.
        packet: u64,
        /// The flow.
        flow: String,
        /// Byte offset in the flow's stream.
        offset: u64,
        /// What was wrong.
        error: PmuError,
    },
}

#[derive(Default)]
struct TcpFlow {
    name: String,
    next: Option<u32>,
    pending: BTreeMap<u32, Vec<u8>>,
    framer: Framer,
}

fn drain(framer: &mut Framer, packet: u64, flow: &str, out: &mut Vec<PcapEvent>) {
    while let Some(ev) = framer.next_event() {
        out.push(event(ev, packet, flow));
    }
}

fn event(ev: FramerEvent<'_>, packet: u64, flow: &str) -> PcapEvent {
    match ev {
        FramerEvent::Frame { offset, bytes } => PcapEvent::Frame {
            packet,
            flow: flow.to_string(),
            offset,
            bytes: bytes.to_vec(),
        },
        FramerEvent::Corrupt { offset, error } => PcapEvent::Corrupt {
            packet,
            flow: flow.to_string(),
            offset,
            error,
        },
        FramerEvent::Skipped { offset, len } => PcapEvent::Corrupt {
            packet,
            flow: flow.to_string(),
            offset,
            error: PmuError::invalid(
                0,
                "SYNC",
                format!("{len} byte(s) that start no frame skipped"),
            ),
        },
    }
}

impl TcpFlow {
    /// Adds a segment; feeds the framer with every byte now in order.
    fn segment(&mut self, seq: u32, syn: bool, payload: &[u8]) {
        let start = if syn { seq.wrapping_add(1) } else { seq };
        let next = *self.next.get_or_insert(start);
        if payload.is_empty() {
            return;
        }
        let ahead = start.wrapping_sub(next) as i32;
        if ahead > 0 {
            self.pending
                .entry(start)
                .or_insert_with(|| payload.to_vec());
            return;
        }
        let overlap = (-ahead) as usize;
        if overlap < payload.len() {
            self.framer.push(&payload[overlap..]);
            self.next = Some(start.wrapping_add(payload.len() as u32));
        }
        // Segments that were waiting for this one.
        while let Some((&s, _)) = self.pending.iter().next() {
            let n = self.next.unwrap_or(s);
            if (s.wrapping_sub(n) as i32) > 0 {
                break;
            }
            if let Some(data) = self.pending.remove(&s) {
                let overlap = n.wrapping_sub(s) as usize;
                if overlap < data.len() {
                    self.framer.push(&data[overlap..]);
                    self.next = Some(s.wrapping_add(data.len() as u32));
                }
            }
        }
    }

    /// At the end of the capture: pushes held-back segments across gaps.
    fn flush(&mut self) {
        for (_, data) in std::mem::take(&mut self.pending) {
            self.framer.push(&data);
        }
    }
}

fn addrs(net: &NetSlice<'_>) -> Option<(IpAddr, IpAddr)> {
    match net {
        NetSlice::Ipv4(v4) => Some((
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        )),
        NetSlice::Ipv6(v6) => Some((
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        )),
        NetSlice::Arp(_) => None,
    }
}

/// Reads a classic pcap capture and returns every frame and problem, in capture order.
/// Packets that are not TCP or UDP over IP are ignored; a malformed packet is skipped.
pub fn read_pcap(input: impl Read) -> Result<Vec<PcapEvent>, PmuError> {
    let mut reader = PcapReader::new(input).map_err(|e| PmuError::Pcap {
        packet: 0,
        reason: e.to_string(),
    })?;
    let link = reader.header().datalink;
    let mut out = Vec::new();
    let mut flows: HashMap<(IpAddr, u16, IpAddr, u16), TcpFlow> = HashMap::new();
    let mut order: Vec<(IpAddr, u16, IpAddr, u16)> = Vec::new();
    let mut packet = 0u64;
    while let Some(next) = reader.next_packet() {
        packet += 1;
        let p = next.map_err(|e| PmuError::Pcap {
            packet,
            reason: e.to_string(),
        })?;
        let data: &[u8] = &p.data;
        let sliced = match link {
            DataLink::ETHERNET => SlicedPacket::from_ethernet(data),
            DataLink::LINUX_SLL => SlicedPacket::from_linux_sll(data),
            DataLink::NULL | DataLink::LOOP => SlicedPacket::from_ip(data.get(4..).unwrap_or(&[])),
            _ => SlicedPacket::from_ip(data),
        };
        let Ok(sliced) = sliced else { continue };
        let Some((src, dst)) = sliced.net.as_ref().and_then(addrs) else {
            continue;
        };
        match sliced.transport {
            Some(TransportSlice::Udp(udp)) => {
                let flow = format!(
                    "{src}:{} > {dst}:{}/udp",
                    udp.source_port(),
                    udp.destination_port()
                );
                for ev in frames_in(udp.payload()) {
                    out.push(event(ev, packet, &flow));
                }
            }
            Some(TransportSlice::Tcp(tcp)) => {
                let key = (src, tcp.source_port(), dst, tcp.destination_port());
                let f = flows.entry(key).or_insert_with(|| {
                    order.push(key);
                    TcpFlow {
                        name: format!("{src}:{} > {dst}:{}/tcp", key.1, key.3),
                        ..TcpFlow::default()
                    }
                });
                f.segment(tcp.sequence_number(), tcp.syn(), tcp.payload());
                drain(&mut f.framer, packet, &f.name, &mut out);
            }
            _ => {}
        }
    }
    for key in order {
        if let Some(f) = flows.get_mut(&key) {
            f.flush();
            drain(&mut f.framer, packet, &f.name, &mut out);
            if let Some(ev) = f.framer.finish() {
                out.push(event(ev, packet, &f.name));
            }
        }
    }
    Ok(out)
}
