//! `platone sim`: the field simulator and load generator — PMUs and a DSO data server
//! publishing to a BAL's broker over MQTT.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use platone_bal::MqttUrl;
use platone_bus::{MqttBus, MqttConfig, TlsConfig};
use platone_sim::{BEHIND_THRESHOLD, FieldPlan, PmuFormat, RunReport, Signing, SimStats};
use serde_json::json;

use crate::error::{CliError, CliResult};

/// How packets are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SignArg {
    /// Unsigned payloads.
    None,
    /// EIP-191 `personal_sign` envelopes.
    Eip191,
    /// EIP-712 `DevicePacket` envelopes.
    Eip712,
}

/// Options of `platone sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// The broker: `mqtt://host:port` or `mqtts://host:port` (with --ca).
    #[arg(long, value_name = "URL", required_unless_present = "print_config")]
    mqtt: Option<String>,
    /// Number of PMUs (`pmu-1`, `pmu-2`, …).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pmus: usize,
    /// Frames per second of each PMU.
    #[arg(long, value_name = "HZ", default_value_t = 50)]
    rate: u32,
    /// Number of smart meters (`MTR-1`, …) read by the data server `dso-ds-1`.
    #[arg(long, value_name = "M", default_value_t = 0)]
    meters: usize,
    /// Run for this many seconds (default: until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Meter time runs F times faster: 15 simulated minutes last 900/F seconds.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    accelerate: f64,
    /// How packets are signed.
    #[arg(long, value_enum, default_value = "none")]
    sign: SignArg,
    /// Seed of the device keys and of the values' noise (the BAL's configuration must be
    /// printed with the same seed).
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// PMUs send binary IEEE C37.118.2 data frames (CFG-2 first and every 5 s) instead of
    /// SOGNO JSON.
    #[arg(long)]
    c37118: bool,
    /// Print the BAL configuration's `[[pods]]` and `[[devices]]` tables for this field (TOML,
    /// with the devices' addresses) and exit.
    #[arg(long)]
    print_config: bool,
    /// Chain id of EIP-712 signatures (the BAL's `chain_id`).
    #[arg(long, value_name = "ID", default_value_t = 1)]
    chain_id: u64,
    /// Topic prefix: devices publish to PREFIX/{device}/pmu and PREFIX/{device}/cim.
    #[arg(long, value_name = "PREFIX", default_value = "platone/bal/devices")]
    prefix: String,
    /// Send this many deliberately malformed packets at the start.
    #[arg(long, value_name = "N", default_value_t = 0)]
    malformed: u32,
    /// Largest number of publishes awaiting the broker's acknowledgement.
    #[arg(long, value_name = "N", default_value_t = 256)]
    in_flight: usize,
    /// Largest number of meters in one MeterReadings document.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    meters_per_packet: usize,
    /// CA certificate (PEM) for an `mqtts://` broker.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// MQTT client id (default `platone-sim-PID`).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Seconds to wait for the broker to accept the connection.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    connect_timeout: u64,
    /// Print the final summary as one JSON object.
    #[arg(long)]
    json: bool,
}

fn plan(args: &SimArgs) -> CliResult<FieldPlan> {
    let mut plan = FieldPlan::new(args.pmus, args.rate, args.meters);
    plan.signing = match args.sign {
        SignArg::None => Signing::None,
        SignArg::Eip191 => Signing::Eip191,
        SignArg::Eip712 => Signing::Eip712,
    };
    plan.seed = args.seed;
    plan.chain_id = args.chain_id;
    plan.accelerate = args.accelerate;
    plan.pmu_format = if args.c37118 {
        PmuFormat::C37118
    } else {
        PmuFormat::Sogno
    };
    plan.topic_prefix = args.prefix.clone();
    plan.malformed = args.malformed;
    plan.max_in_flight = args.in_flight;
    plan.meters_per_packet = args.meters_per_packet;
    plan.validate().map_err(CliError::input)?;
    Ok(plan)
}

fn duration(args: &SimArgs) -> CliResult<Option<Duration>> {
    args.duration
        .map(|secs| {
            Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    CliError::input(format!(
                        "--duration {secs}: give a positive number of seconds"
                    ))
                })
        })
        .transpose()
}

fn mqtt_config(args: &SimArgs, url: &str) -> CliResult<MqttConfig> {
    let parsed = MqttUrl::parse(url).map_err(|e| CliError::input(format!("--mqtt {url}: {e}")))?;
    let client_id = args
        .client_id
        .clone()
        .unwrap_or_else(|| format!("platone-sim-{}", std::process::id()));
    let mut config = parsed.client_config(client_id);
    config.max_inflight =
        u16::try_from(args.in_flight.clamp(1, usize::from(u16::MAX))).unwrap_or(u16::MAX);
    if parsed.tls {
        let ca = args
            .ca
            .as_ref()
            .ok_or_else(|| CliError::usage(format!("--mqtt {url}: mqtts needs --ca FILE")))?;
        let ca_pem = std::fs::read(ca)
            .map_err(|e| CliError::input(format!("--ca {}: {e}", ca.display())))?;
        config.tls = Some(TlsConfig {
            ca_pem,
            client_pem: None,
        });
    }
    Ok(config)
}

/// Runs `platone sim`.
pub fn run(args: SimArgs) -> CliResult {
    let plan = plan(&args)?;
    if args.print_config {
        print!("{}", plan.bal_config_toml().map_err(CliError::input)?);
        return Ok(());
    }
    let duration = duration(&args)?;
    let url = args
        .mqtt
        .clone()
        .ok_or_else(|| CliError::usage("--mqtt URL is required"))?;
    let config = mqtt_config(&args, &url)?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::input(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let bus = MqttBus::connect(config).map_err(CliError::input)?;
        bus.wait_connected(Duration::from_secs(args.connect_timeout.max(1)))
            .await
            .map_err(|e| CliError::input(format!("cannot reach the broker: {e}")))?;
        let (packets, measurements) = plan.nominal_rates();
        eprintln!(
            "sim: publishing to {url}: {} PMU(s) at {} frames/s, {} meter(s) every {:.1} s \
             ({packets:.0} packets/s, {measurements:.0} measurements/s), signing {}",
            plan.pmus,
            plan.rate,
            plan.meters,
            900.0 / plan.accelerate,
            plan.signing
        );
        let stats = Arc::new(SimStats::new());
        let progress = tokio::spawn(progress(stats.clone()));
        let stopper = {
            let stats = stats.clone();
            tokio::spawn(async move {
                crate::signal::stop_signal().await;
                stats.cancel();
            })
        };
        let report = platone_sim::run(&bus, &plan, duration, &stats).await;
        progress.abort();
        stopper.abort();
        // The broker has acknowledged everything counted; a failed goodbye loses nothing.
        let _ = bus.disconnect().await;
        let report = report.map_err(CliError::input)?;
        summary(&report, args.json);
        if report.stats.failed > 0 {
            return Err(CliError::input(format!(
                "{} publish(es) failed or were not acknowledged by {url}",
                report.stats.failed
            )));
        }
        Ok(())
    })
}

async fn progress(stats: Arc<SimStats>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last = stats.snapshot();
    let mut seconds = 0u64;
    loop {
        tick.tick().await;
        seconds += 1;
        let now = stats.snapshot();
        let behind = Duration::from_micros(now.lag_micros);
        eprintln!(
            "sim: {seconds}s packets {} (+{}/s) measurements {} (+{}/s) in flight {} failed {}{}",
            now.packets,
            now.packets - last.packets,
            now.measurements,
            now.measurements - last.measurements,
            now.in_flight,
            now.failed,
            if behind > BEHIND_THRESHOLD {
                format!(" BEHIND schedule by {} ms", behind.as_millis())
            } else {
                String::new()
            }
        );
        last = now;
    }
}

fn summary(report: &RunReport, as_json: bool) {
    if as_json {
        println!(
            "{}",
            json!({
                "packets": report.stats.packets,
                "measurements": report.stats.measurements,
                "malformed": report.stats.malformed,
                "failed": report.stats.failed,
                "scheduled_packets": report.scheduled_packets,
                "elapsed_secs": report.elapsed.as_secs_f64(),
                "packets_per_second": report.packets_per_second(),
                "measurements_per_second": report.measurements_per_second(),
                "max_lag_ms": report.stats.max_lag_micros as f64 / 1000.0,
                "kept_up": report.kept_up,
                "cancelled": report.cancelled,
            })
        );
    } else {
        println!(
            "sim: sent {} packets ({} measurements, {} malformed) in {:.2} s: {:.0} packets/s, \
             {:.0} measurements/s; failed {}; max lag {} ms",
            report.stats.packets,
            report.stats.measurements,
            report.stats.malformed,
            report.elapsed.as_secs_f64(),
            report.packets_per_second(),
            report.measurements_per_second(),
            report.stats.failed,
            report.stats.max_lag_micros / 1000
        );
    }
    if !report.kept_up && !report.cancelled {
        eprintln!(
            "sim: could not keep up with the asked rate: {} of {} scheduled packets sent, up to {} ms late",
            report.attempted_packets,
            report
                .scheduled_packets
                .map_or_else(|| "?".to_owned(), |n| n.to_string()),
            report.stats.max_lag_micros / 1000
        );
    }
}
