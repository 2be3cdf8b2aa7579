//! The JSON view of decoded frames that `platone pmu decode` and `connect` print: one object per
//! frame with `type`, `version`, `idcode`, `soc`, `fracsec`, `time` (RFC 3339, microseconds),
//! `time_quality`, `crc_ok`, `offset`, and per type `pmus` (data), `config` (CFG-1/2/3),
//! `command` or `text` (header).

use serde_json::{Map, Value, json};

use super::c37118::{
    ConfigFrame, ConfigRegistry, DataFrame, Decoded, FrameHeader, PmuConfig, StatView, TimeBase,
    TimeQualityView, format_micros, frame_time,
};
use super::channel_map::{ChannelMap, channel_info};

fn common(header: &FrameHeader, time_base: TimeBase, offset: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!(header.kind.as_str()));
    m.insert("version".into(), json!(header.version));
    m.insert("idcode".into(), json!(header.idcode));
    m.insert("soc".into(), json!(header.soc));
    m.insert("fracsec".into(), json!(header.fracsec.count()));
    m.insert(
        "time".into(),
        json!(frame_time(header.soc, header.fracsec, time_base).map(|t| format_micros(&t))),
    );
    m.insert(
        "time_quality".into(),
        json!(TimeQualityView::from(header.fracsec.quality())),
    );
    m.insert("crc_ok".into(), json!(true));
    m.insert("offset".into(), json!(offset));
    m
}

fn component_name(c: Option<super::c37118::PhasorComponent>) -> Value {
    json!(c.map(|c| serde_json::to_value(c).unwrap_or(Value::Null)))
}

fn data_pmus(frame: &DataFrame, config: &ConfigFrame, map: Option<&ChannelMap>) -> Value {
    let pmus: Vec<Value> = config
        .pmus
        .iter()
        .zip(&frame.pmus)
        .map(|(cfg, d)| {
            let phasors: Vec<Value> = cfg
                .phasors
                .iter()
                .zip(&d.phasors)
                .map(|(ch, v)| {
                    let info = channel_info(&cfg.station, ch, map);
                    json!({
                        "name": ch.name,
                        "kind": info.kind,
                        "phase": component_name(info.component),
                        "component": info.grid_component,
                        "real": v.map(|v| v.real()),
                        "imag": v.map(|v| v.imag()),
                        "magnitude": v.map(|v| v.magnitude()),
                        "angle": v.map(|v| v.angle()),
                    })
                })
                .collect();
            let analogs: Vec<Value> = cfg
                .analogs
                .iter()
                .zip(&d.analogs)
                .map(|(a, v)| json!({"name": a.name, "value": v}))
                .collect();
            let digitals: Vec<Value> = cfg
                .digitals
                .iter()
                .zip(&d.digitals)
                .map(|(dg, v)| {
                    json!({"names": dg.names, "value": v, "normal": dg.normal, "valid": dg.valid,
                           "abnormal": (v ^ dg.normal) & dg.valid})
                })
                .collect();
            json!({
                "station": cfg.station,
                "idcode": cfg.idcode,
                "stat": StatView::from(d.stat),
                "phasors": phasors,
                "frequency": d.frequency,
                "rocof": d.rocof,
                "analogs": analogs,
                "digitals": digitals,
            })
        })
        .collect();
    Value::Array(pmus)
}

fn pmu_config(p: &PmuConfig) -> Value {
    let f = p.format;
    let phasors: Vec<Value> = p
        .phasors
        .iter()
        .map(|c| {
            let mut v = json!({
                "name": c.name,
                "kind": c.kind,
                "unit": c.unit_scale,
                "scale": c.magnitude_factor(f.phasor_float()),
            });
            if let (Some(s), Some(o)) = (c.scale, v.as_object_mut()) {
                o.insert("modification".into(), json!(s.modification));
                o.insert("phasor_type".into(), json!(s.phasor_type));
                o.insert("component".into(), json!(s.component()));
                o.insert("user".into(), json!(s.user));
                o.insert("magnitude_scale".into(), json!(s.magnitude_scale));
                o.insert("angle_offset".into(), json!(s.angle_offset));
            }
            v
        })
        .collect();
    let analogs: Vec<Value> = p
        .analogs
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "analog_kind": a.analog_kind,
                "unit": a.unit_scale,
                "scale": a.scale.map(|(m, _)| m),
                "offset": a.scale.map(|(_, b)| b),
            })
        })
        .collect();
    let digitals: Vec<Value> = p
        .digitals
        .iter()
        .map(|d| json!({"names": d.names, "normal": d.normal, "valid": d.valid}))
        .collect();
    let mut v = json!({
        "station": p.station,
        "idcode": p.idcode,
        "format": {
            "raw": f.0,
            "polar": f.polar(),
            "phasor_float": f.phasor_float(),
            "analog_float": f.analog_float(),
            "freq_float": f.freq_float(),
        },
        "phasors": phasors,
        "analogs": analogs,
        "digitals": digitals,
        "nominal_frequency": p.nominal_frequency(),
        "cfgcnt": p.cfgcnt,
    });
    if let (Some(e), Some(o)) = (p.cfg3, v.as_object_mut()) {
        o.insert(
            "global_pmu_id".into(),
            json!(
                e.global_pmu_id
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            ),
        );
        o.insert("latitude".into(), json!(finite(e.latitude)));
        o.insert("longitude".into(), json!(finite(e.longitude)));
        o.insert("elevation".into(), json!(finite(e.elevation)));
        o.insert(
            "service_class".into(),
            json!(char::from(e.service_class).to_string()),
        );
        o.insert("window".into(), json!(e.window));
        o.insert("group_delay".into(), json!(e.group_delay));
    }
    v
}

/// `None` for +∞ (unspecified) and NaN.
fn finite(x: f32) -> Option<f32> {
    x.is_finite().then_some(x)
}

/// The JSON object of a configuration.
pub fn config_json(c: &ConfigFrame) -> Value {
    json!({
        "time_base": c.time_base.divisor(),
        "time_base_flags": c.time_base.flags(),
        "data_rate": c.data_rate,
        "pmus": c.pmus.iter().map(pmu_config).collect::<Vec<_>>(),
    })
}

/// The JSON object for one decoded frame at `offset` (a byte offset or a line number).
/// Header and command frames take their TIME_BASE from `registry` (1 000 000 when the stream's
/// configuration is unknown).
pub fn decoded_json(
    decoded: &Decoded,
    offset: u64,
    registry: &ConfigRegistry,
    map: Option<&ChannelMap>,
) -> Value {
    let stream_tb = |id: u16| {
        registry
            .get(id)
            .map_or(TimeBase::MICROSECONDS, |c| c.time_base)
    };
    let m = match decoded {
        Decoded::Data(frame, config) => {
            let mut m = common(&frame.header, frame.time_base, offset);
            m.insert("pmus".into(), data_pmus(frame, config, map));
            m
        }
        Decoded::Config(config, update) => {
            let mut m = common(&config.header, config.time_base, offset);
            m.insert("config".into(), config_json(config));
            m.insert("update".into(), json!(format!("{update:?}")));
            m
        }
        Decoded::Cfg3Fragment { header, cont_idx } => {
            let mut m = common(header, stream_tb(header.idcode), offset);
            m.insert("fragment".into(), json!(cont_idx));
            m
        }
        Decoded::Header(h) => {
            let mut m = common(&h.header, stream_tb(h.header.idcode), offset);
            m.insert("text".into(), json!(h.text));
            m
        }
        Decoded::Command(c) => {
            let mut m = common(&c.header, stream_tb(c.header.idcode), offset);
            m.insert(
                "command".into(),
                json!({
                    "code": c.command.code(),
                    "name": c.command.name(),
                    "extra": c.command.extra().iter().map(|b| format!("{b:02x}")).collect::<String>(),
                }),
            );
            m
        }
    };
    Value::Object(m)
}
