//! `platone keys`: device keys (secp256k1, Ethereum addresses), EIP-191 and EIP-712 signing.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use platone_certify::DeviceKey;
use platone_certify::signature::{
    Eip712Domain, deployment_domain, device_packet, format_signature, parse_address,
    parse_signature, recover_personal, recover_typed,
};

use crate::error::{CliError, CliResult};

/// Subcommands of `platone keys`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a device key. With `--out`, the secret goes to that file (readable by its
    /// owner only) and the address is printed; otherwise the secret and then the address are
    /// printed.
    Generate {
        /// The file to write the secret to (refused if it exists).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the Ethereum address of a key.
    Address {
        /// The key file (hex secret).
        #[arg(long)]
        key: PathBuf,
    },
    /// Sign a message (EIP-191 `personal_sign`) or, with `--typed`, a record as an EIP-712
    /// `DevicePacket`; prints the 65-byte signature as hex.
    Sign {
        /// The key file (hex secret).
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        input: MessageArgs,
    },
    /// Check a signature: prints the signer's address; exit 1 unless it is `--address`.
    Verify {
        /// The expected signer.
        #[arg(long)]
        address: String,
        /// The signature (hex, 65 bytes).
        #[arg(long)]
        signature: String,
        #[command(flatten)]
        input: MessageArgs,
    },
}

/// What is signed.
#[derive(Debug, Args)]
pub struct MessageArgs {
    /// The message text.
    #[arg(long, conflicts_with = "file", required_unless_present = "file")]
    message: Option<String>,
    /// A file holding the message (or, with `--typed`, the JSON record).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Sign EIP-712 typed data `DevicePacket(string device,bytes32 contentHash,uint64
    /// timestamp)` instead of EIP-191 `personal_sign`: `contentHash` is keccak256 of the
    /// message bytes exactly as given (the file's bytes, a trailing newline included).
    #[arg(long, requires_all = ["device", "timestamp"])]
    typed: bool,
    /// The device identifier (with `--typed`).
    #[arg(long)]
    device: Option<String>,
    /// The packet time in Unix seconds (with `--typed`).
    #[arg(long)]
    timestamp: Option<u64>,
    /// The EIP-712 domain's chain id (with `--typed`).
    #[arg(long, default_value_t = 1)]
    chain_id: u64,
    /// The EIP-712 domain's verifying contract: the deployment's registry contract, if it has
    /// one (with `--typed`).
    #[arg(long)]
    verifying_contract: Option<String>,
}

impl MessageArgs {
    fn domain(&self) -> CliResult<Eip712Domain> {
        let contract = self
            .verifying_contract
            .as_deref()
            .map(parse_address)
            .transpose()
            .map_err(|e| CliError::usage(format!("--verifying-contract: {e}")))?;
        Ok(deployment_domain(self.chain_id, contract))
    }
}

/// Runs a `platone keys` subcommand.
pub fn run(command: KeysCommand) -> CliResult {
    match command {
        KeysCommand::Generate { out } => generate(out.as_deref()),
        KeysCommand::Address { key } => {
            println!("{}", read_key(&key)?.address());
            Ok(())
        }
        KeysCommand::Sign { key, input } => {
            let key = read_key(&key)?;
            let signature = if input.typed {
                key.sign_typed(&packet(&input)?, &input.domain()?)
            } else {
                key.sign_personal(&message(&input)?)
            }
            .map_err(|e| CliError::input(e.to_string()))?;
            println!("{}", format_signature(&signature));
            Ok(())
        }
        KeysCommand::Verify {
            address,
            signature,
            input,
        } => {
            let expected = parse_address(&address).map_err(|e| CliError::input(e.to_string()))?;
            let signature =
                parse_signature(&signature).map_err(|e| CliError::input(e.to_string()))?;
            let signer = if input.typed {
                recover_typed(&packet(&input)?, &input.domain()?, &signature)
            } else {
                recover_personal(&message(&input)?, &signature)
            }
            .map_err(|e| CliError::input(e.to_string()))?;
            println!("{signer}");
            if signer != expected {
                return Err(CliError::input(format!(
                    "signature was made by {signer}, not {expected}"
                )));
            }
            Ok(())
        }
    }
}

fn generate(out: Option<&Path>) -> CliResult {
    let key = DeviceKey::generate().map_err(|e| CliError::input(e.to_string()))?;
    match out {
        Some(path) => {
            key.save(path)
                .map_err(|e| CliError::input(format!("cannot write the key: {e}")))?;
            println!("{}", key.address());
        }
        None => {
            println!("{}", key.to_hex());
            println!("{}", key.address());
        }
    }
    Ok(())
}

fn read_key(path: &Path) -> CliResult<DeviceKey> {
    DeviceKey::load(path).map_err(|e| CliError::input(e.to_string()))
}

fn message(input: &MessageArgs) -> CliResult<Vec<u8>> {
    match (&input.message, &input.file) {
        (Some(m), _) => Ok(m.as_bytes().to_vec()),
        (None, Some(f)) => std::fs::read(f)
            .map_err(|e| CliError::input(format!("{}: cannot read: {e}", f.display()))),
        (None, None) => Err(CliError::usage("give --message or --file")),
    }
}

/// The EIP-712 packet of the message bytes exactly as given.
fn packet(input: &MessageArgs) -> CliResult<platone_certify::DevicePacket> {
    let payload = message(input)?;
    let device = input
        .device
        .as_deref()
        .ok_or_else(|| CliError::usage("--typed needs --device"))?;
    let timestamp = input
        .timestamp
        .ok_or_else(|| CliError::usage("--typed needs --timestamp"))?;
    Ok(device_packet(device, &payload, timestamp))
}
