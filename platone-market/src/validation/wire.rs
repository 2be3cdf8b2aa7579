//! The validation round trip's messages on a bus (FR-MP-MOMV-02/03): the Market Platform
//! sends each provisional clearing result as a [`ValidationRequest`] and a DSO's validator
//! answers with a [`ValidationResponse`]. Both sides use these types, so that neither service
//! depends on the other.

use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::clearing::ClearingResult;
use crate::scenario::ScenarioFile;

/// The format name of validation requests.
pub const VALIDATION_FORMAT: &str = "platone-market-validation/1";

/// A provisional result sent for validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationRequest {
    /// [`VALIDATION_FORMAT`].
    pub format: String,
    /// The id the response repeats.
    pub request_id: String,
    /// The session.
    pub session: String,
    /// The validation round (1 for the first result, 2 after the first re-clearing…).
    pub round: usize,
    /// The book the result was cleared from (scenario format, with the network).
    pub book: ScenarioFile,
    /// The provisional result.
    pub result: ClearingResult,
}

/// A validator's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationResponse {
    /// The request's id.
    pub request_id: String,
    /// One verdict per accepted order of the result.
    pub verdicts: Vec<Verdict>,
    /// Who validated (for the audit trail).
    #[serde(default)]
    pub validator: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_without_a_validator_reads() {
        let response: ValidationResponse = serde_json::from_str(
            r#"{"request_id": "s:1:0", "verdicts": [
                {"kind": "offer", "order": "o1", "light": "red", "reason": "bus 5"}]}"#,
        )
        .unwrap();
        assert_eq!(response.validator, None);
        assert_eq!(response.verdicts[0].light, super::super::Light::Red);
        let again: ValidationResponse =
            serde_json::from_str(&serde_json::to_string(&response).unwrap()).unwrap();
        assert_eq!(again, response);
    }
}
