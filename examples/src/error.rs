//! Errors of the `platone` command and their exit codes.

use std::fmt;

/// What went wrong in a command, and so which exit code it ends with.
#[derive(Debug)]
pub enum CliError {
    /// The input (a file, a line, a value) is invalid: exit code 1.
    Input(String),
    /// The command was used wrongly (conflicting or missing options): exit code 2.
    Usage(String),
}

impl CliError {
    /// An invalid-input error with the given message.
    pub fn input(message: impl fmt::Display) -> Self {
        CliError::Input(message.to_string())
    }

    /// A usage error with the given message.
    pub fn usage(message: impl fmt::Display) -> Self {
        CliError::Usage(message.to_string())
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) => 1,
            CliError::Usage(_) => 2,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Input(m) | CliError::Usage(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}

/// Result alias for commands.
pub type CliResult<T = ()> = Result<T, CliError>;
