//! What the REST tests share: a client of the platform's API.
// Each test binary uses part of it.
#![allow(dead_code)]

use serde_json::Value;

/// A client of the API at `base`, with the caller's bearer token.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// `base` as `token`'s holder.
    pub fn new(base: &str, token: &str) -> Self {
        Api {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            token: token.to_owned(),
        }
    }

    /// The same API as another caller.
    pub fn as_caller(&self, token: &str) -> Self {
        Api::new(&self.base, token)
    }

    /// `GET path`: the status and the JSON body (`null` when it is none).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let request = self.http.get(format!("{}{path}", self.base));
        answer(request.bearer_auth(&self.token)).await
    }

    /// `POST path` with a JSON body: the status and the JSON answer.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let request = self.http.post(format!("{}{path}", self.base)).json(body);
        answer(request.bearer_auth(&self.token)).await
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}
