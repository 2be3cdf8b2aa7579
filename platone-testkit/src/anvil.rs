//! A real local Ethereum node: `anvil` (npm package `@foundry-rs/anvil-linux-amd64`, pinned in
//! the repository's `package.json`, installed by `scripts/test`) on a free loopback port, with
//! its state in a temporary directory so that it can be stopped and started again mid-test.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Result, TestkitError};

const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The private keys of anvil's first three funded accounts (its fixed test mnemonic).
pub const ANVIL_KEYS: [&str; 3] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1d1706367c2e68ca870fc3f5ecfb7dfaee92a",
];

/// How the node runs.
#[derive(Debug, Clone, Default)]
pub struct AnvilOptions {
    /// Mine a block every this many seconds instead of one per transaction.
    pub block_time: Option<u64>,
    /// A Besu-style free-gas network: London rules, base fee 0, gas price 0, so that legacy
    /// transactions at gas price 0 are mined.
    pub free_gas: bool,
}

/// A running `anvil` (stopped and its directory removed on drop).
#[derive(Debug)]
pub struct Anvil {
    binary: PathBuf,
    options: AnvilOptions,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn error(stage: &'static str, reason: impl Into<String>) -> TestkitError {
    TestkitError::Anvil {
        stage,
        reason: reason.into(),
    }
}

/// The `anvil` binary: `$PLATONE_ANVIL` when set, else the one `npm ci` put in the
/// repository's `node_modules`, else the first on `PATH`. The error says how to install it.
pub fn find_anvil() -> Result<PathBuf> {
    if let Some(binary) = std::env::var_os("PLATONE_ANVIL") {
        let binary = PathBuf::from(binary);
        return if binary.is_file() {
            Ok(binary)
        } else {
            Err(error(
                "binary",
                format!("PLATONE_ANVIL={} is not a file", binary.display()),
            ))
        };
    }
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let in_node_modules = repository.join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    std::iter::once(in_node_modules)
        .chain(
            std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .map(|d| d.join("anvil")),
        )
        .find(|p| p.is_file())
        .ok_or_else(|| {
            error(
                "binary",
                "no anvil: run `npm ci` at the repository root (scripts/test does) or set \
                 PLATONE_ANVIL",
            )
        })
}

impl Anvil {
    /// Starts a node mining one block per transaction.
    pub fn start() -> Result<Anvil> {
        Anvil::start_with(AnvilOptions::default())
    }

    /// Starts a node with `options` and waits until it accepts connections.
    pub fn start_with(options: AnvilOptions) -> Result<Anvil> {
        let binary = find_anvil()?;
        let dir = tempfile::Builder::new()
            .prefix("platone-anvil-")
            .tempdir()
            .map_err(|e| error("start", format!("temporary directory: {e}")))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| error("port", format!("no free loopback port: {e}")))?;
        let mut node = Anvil {
            binary,
            options,
            port,
            dir,
            child: None,
        };
        node.launch()?;
        Ok(node)
    }

    /// The JSON-RPC URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The chain id (anvil's default).
    pub fn chain_id(&self) -> u64 {
        31337
    }

    /// The node's state file (written on stop, and every second).
    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    /// Stops the node with SIGTERM (it writes its state first) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            crate::process::terminate(child, STOP_TIMEOUT);
        }
    }

    /// Starts a stopped node again on the same port from its saved state (its pool of
    /// unmined transactions is lost, as on a real node restart).
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.launch()
    }

    fn launch(&mut self) -> Result<()> {
        let log = std::fs::File::create(self.dir.path().join("anvil.log"))
            .map_err(|e| TestkitError::io(self.dir.path().join("anvil.log"), e))?;
        let mut command = Command::new(&self.binary);
        command
            .args(["--host", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .arg("--state")
            .arg(self.state_path())
            .args(["--state-interval", "1", "--silent"]);
        if let Some(seconds) = self.options.block_time {
            command.arg("--block-time").arg(seconds.to_string());
        }
        if self.options.free_gas {
            command.args([
                "--hardfork",
                "london",
                "--base-fee",
                "0",
                "--gas-price",
                "0",
            ]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| error("start", format!("running {}: {e}", self.binary.display())))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                let log =
                    std::fs::read_to_string(self.dir.path().join("anvil.log")).unwrap_or_default();
                return Err(error(
                    "start",
                    format!("anvil exited ({status}) before listening; stderr:\n{log}"),
                ));
            }
            if Instant::now() > deadline {
                return Err(error(
                    "start",
                    format!("port {} not listening after {START_TIMEOUT:?}", self.port),
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
